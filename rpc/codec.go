package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// request is one decoded JSON-RPC call. ID is nil for a notification.
type request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
}

// wireRequest is the JSON shape of a call.
type wireRequest struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// decodeResult is a decoded body: the calls, whether it was a batch, and
// the calls that were malformed (answered with their error in place).
type decoded struct {
	calls []call
	batch bool
}

// call is either a valid request or the error to answer in its place.
type call struct {
	req request
	err *Error
}

// decodeBody decodes a request body. A body that is not JSON, or an empty
// batch, yields a single error answer (returned as err); otherwise each
// element of a batch is decoded on its own, so one malformed call does not
// spoil the others. maxBatch bounds the calls.
func decodeBody(body []byte, maxBatch int) (decoded, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return decoded{}, &Error{Code: CodeInvalidRequest, Message: "empty request"}
	}
	if body[0] != '[' {
		c := decodeCall(body)
		return decoded{calls: []call{c}}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return decoded{}, &Error{Code: CodeParseError, Message: "parse error: " + err.Error()}
	}
	if len(elems) == 0 {
		return decoded{}, &Error{Code: CodeInvalidRequest, Message: "empty batch"}
	}
	if len(elems) > maxBatch {
		return decoded{}, &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("batch of %d calls exceeds the limit of %d", len(elems), maxBatch)}
	}
	d := decoded{batch: true, calls: make([]call, len(elems))}
	for i, e := range elems {
		d.calls[i] = decodeCall(e)
	}
	return d, nil
}

func decodeCall(b []byte) call {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		if !json.Valid(b) {
			return call{err: &Error{Code: CodeParseError, Message: "parse error: body is not valid JSON"}}
		}
		return call{err: &Error{Code: CodeInvalidRequest, Message: "a call must be a JSON object"}}
	}
	var w wireRequest
	if err := json.Unmarshal(b, &w); err != nil {
		if !json.Valid(b) {
			return call{err: &Error{Code: CodeParseError, Message: "parse error: " + err.Error()}}
		}
		return call{err: &Error{Code: CodeInvalidRequest, Message: "invalid request: " + err.Error()}}
	}
	id := w.ID
	if len(id) > 0 && !validID(id) {
		return call{err: &Error{Code: CodeInvalidRequest, Message: "id must be a string, a number or null"}}
	}
	if w.Version != "2.0" {
		return call{req: request{ID: orNull(id)}, err: &Error{Code: CodeInvalidRequest, Message: `"jsonrpc" must be "2.0"`}}
	}
	if w.Method == "" {
		return call{req: request{ID: orNull(id)}, err: &Error{Code: CodeInvalidRequest, Message: "method is missing"}}
	}
	if p := bytes.TrimSpace(w.Params); len(p) > 0 && p[0] != '[' && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
		return call{req: request{ID: orNull(id)}, err: &Error{Code: CodeInvalidRequest, Message: "params must be an array or an object"}}
	}
	return call{req: request{ID: id, Method: w.Method, Params: w.Params}}
}

func validID(id json.RawMessage) bool {
	switch id[0] {
	case '"', 'n':
		return true
	case '{', '[', 't', 'f':
		return false
	}
	return true // a number; json.Unmarshal has checked the syntax
}

var nullID = json.RawMessage("null")

func orNull(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return nullID
	}
	return id
}

// appendResponse appends one response object.
func appendResponse(buf []byte, id json.RawMessage, result []byte, e *Error) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = append(buf, orNull(id)...)
	if e != nil {
		buf = append(buf, `,"error":{"code":`...)
		buf = strconv.AppendInt(buf, int64(e.Code), 10)
		buf = append(buf, `,"message":`...)
		buf = appendJSONString(buf, e.Message)
		if e.Data != nil {
			if d, err := json.Marshal(e.Data); err == nil {
				buf = append(buf, `,"data":`...)
				buf = append(buf, d...)
			}
		}
		return append(buf, "}}"...)
	}
	buf = append(buf, `,"result":`...)
	buf = append(buf, result...)
	return append(buf, '}')
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(buf, b...)
}

// decodeParams decodes positional params into args; the first required of
// them must be present. Named (object) params are refused: Ethereum methods
// take positional ones.
func decodeParams(raw json.RawMessage, required int, args ...any) *Error {
	raw = bytes.TrimSpace(raw)
	var ps []json.RawMessage
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] != '[' {
			return errInvalidParams("params must be an array")
		}
		if err := json.Unmarshal(raw, &ps); err != nil {
			return errInvalidParams("invalid params: %v", err)
		}
	}
	if len(ps) > len(args) {
		return errInvalidParams("too many arguments, want at most %d", len(args))
	}
	for i := range args {
		if i >= len(ps) || bytes.Equal(bytes.TrimSpace(ps[i]), []byte("null")) {
			if i < required {
				return errInvalidParams("missing value for required argument %d", i)
			}
			continue
		}
		if err := json.Unmarshal(ps[i], args[i]); err != nil {
			return errInvalidParams("invalid argument %d: %v", i, err)
		}
	}
	return nil
}
