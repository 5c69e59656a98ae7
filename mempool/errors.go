package mempool

import (
	"errors"

	"github.com/bizra/node0/chain"
)

// Rejections of the pool itself. Rejections by the transaction rules are
// the chain package's errors (chain.ErrNonceTooLow, chain.ErrInsufficientFunds,
// chain.ErrFeeCapTooLow, …), returned as they are. A rejection that says more
// than its rule, of the pool's or the chain's, is a *chain.TxError.
var (
	ErrAlreadyKnown       = errors.New("mempool: already known")
	ErrReplaceUnderpriced = errors.New("mempool: replacement transaction underpriced")
	ErrUnderpriced        = errors.New("mempool: transaction underpriced")
	ErrShardFull          = errors.New("mempool: sender's shard is full")
	ErrSenderPendingLimit = errors.New("mempool: sender has too many pending transactions")
	ErrSenderQueuedLimit  = errors.New("mempool: sender has too many queued transactions")
	ErrNonceTooFar        = errors.New("mempool: nonce too far above the account nonce")
	ErrReplaceLimit       = errors.New("mempool: sender replaced too many transactions since the last block")
	ErrInvalidConfig      = errors.New("mempool: invalid config")
)

// reasons names every rejection for the rejected_total metric, and marks
// those that make a transaction invalid in itself (see Invalid).
var reasons = []struct {
	err     error
	name    string
	invalid bool
}{
	{chain.ErrOversized, "oversized", true},
	{chain.ErrTxDecode, "decode", true},
	{chain.ErrTxType, "tx_type", true},
	{chain.ErrUnprotected, "unprotected", true},
	{chain.ErrWrongChainID, "chain_id", true},
	{chain.ErrContractCreation, "contract_creation", true},
	{chain.ErrData, "data", true},
	{chain.ErrAccessList, "access_list", true},
	{chain.ErrGasLimit, "gas_limit", true},
	{chain.ErrValueOverflow, "value_overflow", true},
	{chain.ErrFeeCapTooLow, "fee_cap_too_low", true},
	{chain.ErrTipAboveFeeCap, "tip_above_fee_cap", true},
	{chain.ErrInvalidSignature, "invalid_signature", true},
	{chain.ErrNonceTooLow, "nonce_too_low", false},
	{chain.ErrInsufficientFunds, "insufficient_funds", false},
	{ErrAlreadyKnown, "already_known", false},
	{ErrReplaceUnderpriced, "replacement_underpriced", false},
	{ErrUnderpriced, "underpriced", false},
	{ErrShardFull, "shard_full", false},
	{ErrSenderPendingLimit, "sender_pending_limit", false},
	{ErrSenderQueuedLimit, "sender_queued_limit", false},
	{ErrNonceTooFar, "nonce_too_far", false},
	{ErrReplaceLimit, "replacement_limit", false},
}

// reasonOf returns the metric label of a rejection.
func reasonOf(err error) int {
	for i, r := range reasons {
		if errors.Is(err, r.err) {
			return i
		}
	}
	return len(reasons) // "other"
}

// Invalid reports whether err refuses a transaction for what it is, not for
// when or where it arrived: it breaks one of the chain's stateless rules
// (encoding, type, chain id, recipient, data, gas, value and fee ranges,
// the minimum gas price, size) or its signature recovers no sender. These
// rules come from the genesis, so no state of the chain and no pool will
// ever admit such a transaction, and whoever relays it relays junk.
//
// Every other refusal depends on the moment: the nonce and balance against
// the committed state (a nonce just used, a balance just spent), the pool's
// contents and limits (already known, underpriced, full, the sender's
// limits, a replacement's price or count). Two honest nodes that see blocks
// and transactions at different times disagree on these, so they are not
// Invalid; nor is an error that is not a refusal (a failed state read).
func Invalid(err error) bool {
	i := reasonOf(err)
	return i < len(reasons) && reasons[i].invalid
}
