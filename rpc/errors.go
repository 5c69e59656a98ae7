package rpc

import (
	"errors"
	"fmt"
	"time"
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

// MessagePoolFull is the message of every refusal for want of room: at the
// door (Options.Admission) and by the pool's own limits. Its code is
// CodeLimitExceeded and its data a PoolFull.
const MessagePoolFull = "txpool is full"

// PoolFull is the data of a "txpool is full" refusal. Reason is
// "capacity" (the pool holds what the next blocks take), "client_share"
// (this client has had its share until the next block) or "pool_limit"
// (the pool's own limits: max_txs, max_bytes, a shard's share);
// RetryAfterMs is when sending again makes sense (the next block is due).
// The transaction was not admitted: send the same bytes again later.
type PoolFull struct {
	Reason       string `json:"reason"`
	RetryAfterMs int64  `json:"retry_after_ms"`
}

func errPoolFull(reason string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeLimitExceeded, Message: MessagePoolFull, Data: PoolFull{Reason: reason, RetryAfterMs: retryAfter.Milliseconds()}}
}

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
