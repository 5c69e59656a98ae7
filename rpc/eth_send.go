package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

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

// txMessages maps transaction rejections of the chain rules to the messages
// go-ethereum returns, which client libraries match on (ethers.js, for
// example, turns "nonce too low" into NONCE_EXPIRED and "insufficient
// funds" into INSUFFICIENT_FUNDS).
var txMessages = []struct {
	err error
	msg string
}{
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

// txError turns a rejection into the error a client sees: the Ethereum
// message first, then our detail.
func (s *Server) txError(err error) *Error {
	msg := ""
	if s.opts.TxErrorMessage != nil {
		msg = s.opts.TxErrorMessage(err)
	}
	if msg == "" {
		for _, m := range txMessages {
			if errors.Is(err, m.err) {
				msg = m.msg
				break
			}
		}
	}
	detail := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "chain: "), "mempool: ")
	if msg == "" {
		return errServer("%s", detail)
	}
	if i := strings.Index(detail, ": "); i >= 0 && !strings.HasPrefix(detail[i+2:], msg) {
		return errServer("%s: %s", msg, detail[i+2:])
	}
	return errServer("%s", msg)
}
