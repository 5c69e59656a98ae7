package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// budget is the room one call's answer has: what max_response_bytes
// leaves after the answers before it in its batch. Methods whose answer
// grows with what is asked (blocks, receipts, fee history) build it piece
// by piece and stop at the first piece that does not fit, so that an
// answer too large is neither built nor sent; the server checks every
// other answer once it is encoded.
type budget struct {
	method string
	left   int // bytes the result may take
	limit  int // max_response_bytes
	batch  bool
	// client names who asked (clientOf), for the transaction door.
	client string
}

type budgetKey struct{}

func withBudget(ctx context.Context, b budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// budgetOf returns the call's budget; without one (a method called
// directly), room without end.
func budgetOf(ctx context.Context) budget {
	if b, ok := ctx.Value(budgetKey{}).(budget); ok {
		return b
	}
	return budget{left: math.MaxInt, limit: math.MaxInt}
}

// tooLarge is the refusal of an answer that does not fit; hint says how to
// ask for less.
func (b budget) tooLarge(hint string) *Error {
	var msg string
	if b.batch {
		msg = fmt.Sprintf("%s: the answer does not fit the %d bytes this batch has left of max_response_bytes (%d bytes); %s, or send it in a request of its own", b.method, max(b.left, 0), b.limit, hint)
	} else {
		msg = fmt.Sprintf("%s: the answer exceeds max_response_bytes (%d bytes); %s", b.method, b.limit, hint)
	}
	return &Error{Code: CodeLimitExceeded, Message: msg, Data: DataTooLarge}
}

// arrayBuilder builds a JSON array element by element within a budget.
type arrayBuilder struct {
	buf  []byte
	left int
	n    int
}

func newArray(b budget) *arrayBuilder {
	return &arrayBuilder{buf: []byte{'['}, left: b.left}
}

// add appends v, or reports false (appending nothing) when it does not fit.
func (a *arrayBuilder) add(v any) (bool, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	if len(a.buf)+1+len(enc)+1 > a.left {
		return false, nil
	}
	if a.n > 0 {
		a.buf = append(a.buf, ',')
	}
	a.buf = append(a.buf, enc...)
	a.n++
	return true, nil
}

// done closes the array.
func (a *arrayBuilder) done() json.RawMessage { return append(a.buf, ']') }
