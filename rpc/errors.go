package rpc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bizra/node0/chain"
)

// JSON-RPC 2.0 and Ethereum error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeServer         = -32000 // Ethereum: a transaction or state error
	CodeNotFound       = -32001 // resource not found
	CodeLimitExceeded  = -32005 // rate or size limit
)

// DataTooLarge is the data of the CodeLimitExceeded error that refuses an
// answer too large for one request, so that clients can tell it from a rate
// limit and ask for less rather than wait.
const DataTooLarge = "answer too large"

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

func errInvalidParams(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

func errServer(format string, args ...any) *Error {
	return &Error{Code: CodeServer, Message: fmt.Sprintf(format, args...)}
}

// Errors of the server itself.
var (
	ErrInvalidConfig = errors.New("rpc: invalid config")
	ErrStopped       = errors.New("rpc: server stopped")
)

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
