package rpc

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

func (s *Server) sendRawTransaction(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
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

// TxMessage is one rule and its message.
type TxMessage struct {
	Rule    error
	Message string
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
	{chain.ErrNonceTooLow, "nonce too low"},
	{chain.ErrNonceTooHigh, "nonce too high"},
	{chain.ErrNonceMax, "nonce has max value"},
	{chain.ErrInsufficientFunds, "insufficient funds for gas * price + value"},
	{chain.ErrOversized, "oversized data"},
	{chain.ErrInvalidSignature, "invalid sender"},
	{chain.ErrWrongChainID, "invalid chain id for signer"},
	{chain.ErrUnprotected, "only replay-protected (EIP-155) transactions allowed over RPC"},
	{chain.ErrFeeCapTooLow, "max fee per gas less than block base fee"},
	{chain.ErrTipAboveFeeCap, "max priority fee per gas higher than max fee per gas"},
	{chain.ErrGasLimit, "intrinsic gas mismatch: a transfer uses exactly 21000 gas"},
	{chain.ErrTxType, "transaction type not supported"},
	{chain.ErrContractCreation, "contract creation not supported"},
	{chain.ErrData, "transaction data not supported: this chain has no EVM"},
	{chain.ErrAccessList, "access lists not supported: this chain has no EVM"},
	{chain.ErrValueOverflow, "value or fee exceeds 256 bits"},
	{chain.ErrTxDecode, "rlp: invalid transaction encoding"},
}

// txError turns a rejection into the error a client sees: the rule's
// Ethereum message, then the rejection's detail. An error without a message
// (not a rejection by a known rule) is passed on as it is.
func (s *Server) txError(err error) *Error {
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
