package rpc

import (
	"errors"
	"fmt"
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
