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
	ErrInvalidConfig      = errors.New("mempool: invalid config")
)

// reasons names every rejection for the rejected_total metric.
var reasons = []struct {
	err  error
	name string
}{
	{chain.ErrOversized, "oversized"},
	{chain.ErrTxDecode, "decode"},
	{chain.ErrTxType, "tx_type"},
	{chain.ErrUnprotected, "unprotected"},
	{chain.ErrWrongChainID, "chain_id"},
	{chain.ErrContractCreation, "contract_creation"},
	{chain.ErrData, "data"},
	{chain.ErrAccessList, "access_list"},
	{chain.ErrGasLimit, "gas_limit"},
	{chain.ErrValueOverflow, "value_overflow"},
	{chain.ErrFeeCapTooLow, "fee_cap_too_low"},
	{chain.ErrTipAboveFeeCap, "tip_above_fee_cap"},
	{chain.ErrInvalidSignature, "invalid_signature"},
	{chain.ErrNonceTooLow, "nonce_too_low"},
	{chain.ErrInsufficientFunds, "insufficient_funds"},
	{ErrAlreadyKnown, "already_known"},
	{ErrReplaceUnderpriced, "replacement_underpriced"},
	{ErrUnderpriced, "underpriced"},
	{ErrShardFull, "shard_full"},
	{ErrSenderPendingLimit, "sender_pending_limit"},
	{ErrSenderQueuedLimit, "sender_queued_limit"},
	{ErrNonceTooFar, "nonce_too_far"},
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
