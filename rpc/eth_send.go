package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

func (s *Server) sendRawTransaction(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	// The door goes first: a refusal costs no decoding and no signature
	// recovery, which is most of what admission costs.
	if s.opts.Admission != nil {
		if ok, reason, after := s.opts.Admission.Admit(budgetOf(ctx).client); !ok {
			s.metrics.PoolFull.WithLabelValues(reason).Inc()
			return nil, errPoolFull(reason, after)
		}
	}
	var raw hexutil.Bytes
	if e := decodeParams(p, 1, &raw); e != nil {
		return nil, e
	}
	tx, err := s.pool.Add(raw)
	if err != nil {
		return nil, s.txError(err)
	}
	return tx.Hash, nil
}

// TxMessages maps the rules that reject transactions to the messages
// clients recognise. The node passes the pool's through
// Options.TxMessages; the chain rules' are below.
type TxMessages []TxMessage

// TxMessage is one rule and its message. A rule with a FullReason refuses
// for want of room: its error is "txpool is full" with code
// CodeLimitExceeded and PoolFull data of that reason, whatever Message
// says.
type TxMessage struct {
	Rule       error
	Message    string
	FullReason string
}

// Message returns the message of the first rule err matches (errors.Is),
// or "".
func (ms TxMessages) Message(err error) string {
	for _, m := range ms {
		if errors.Is(err, m.Rule) {
			return m.Message
		}
	}
	return ""
}

// chainMessages are the messages go-ethereum gives for the chain rules'
// rejections, which client libraries match on (ethers.js, for example,
// turns "nonce too low" into NONCE_EXPIRED and "insufficient funds" into
// INSUFFICIENT_FUNDS).
var chainMessages = TxMessages{
	{Rule: chain.ErrNonceTooLow, Message: "nonce too low"},
	{Rule: chain.ErrNonceTooHigh, Message: "nonce too high"},
	{Rule: chain.ErrNonceMax, Message: "nonce has max value"},
	{Rule: chain.ErrInsufficientFunds, Message: "insufficient funds for gas * price + value"},
	{Rule: chain.ErrOversized, Message: "oversized data"},
	{Rule: chain.ErrInvalidSignature, Message: "invalid sender"},
	{Rule: chain.ErrWrongChainID, Message: "invalid chain id for signer"},
	{Rule: chain.ErrUnprotected, Message: "only replay-protected (EIP-155) transactions allowed over RPC"},
	{Rule: chain.ErrFeeCapTooLow, Message: "max fee per gas less than block base fee"},
	{Rule: chain.ErrTipAboveFeeCap, Message: "max priority fee per gas higher than max fee per gas"},
	{Rule: chain.ErrGasLimit, Message: "intrinsic gas mismatch: a transfer uses exactly 21000 gas"},
	{Rule: chain.ErrTxType, Message: "transaction type not supported"},
	{Rule: chain.ErrContractCreation, Message: "contract creation not supported"},
	{Rule: chain.ErrData, Message: "transaction data not supported: this chain has no EVM"},
	{Rule: chain.ErrAccessList, Message: "access lists not supported: this chain has no EVM"},
	{Rule: chain.ErrValueOverflow, Message: "value or fee exceeds 256 bits"},
	{Rule: chain.ErrTxDecode, Message: "rlp: invalid transaction encoding"},
}

// txError turns a rejection into the error a client sees: the rule's
// Ethereum message, then the rejection's detail. An error without a message
// (not a rejection by a known rule) is passed on as it is.
func (s *Server) txError(err error) *Error {
	for _, m := range s.opts.TxMessages {
		if m.FullReason != "" && errors.Is(err, m.Rule) {
			s.metrics.PoolFull.WithLabelValues(m.FullReason).Inc()
			return errPoolFull(m.FullReason, s.retryHint())
		}
	}
	msg := s.opts.TxMessages.Message(err)
	if msg == "" {
		msg = chainMessages.Message(err)
	}
	if msg == "" {
		return errServer("%s", err)
	}
	// A rejection (chain.TxError, which the chain and the pool return)
	// carries what about the transaction broke its rule.
	if d, ok := errors.AsType[*chain.TxError](err); ok && d.Detail() != "" {
		return errServer("%s: %s", msg, d.Detail())
	}
	return errServer("%s", msg)
}

// retryHint is when a client refused for want of room should try again:
// the block time, the time the chain takes to make room.
func (s *Server) retryHint() time.Duration {
	return s.chain.Genesis().BlockTime.Duration
}
