package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Client is a minimal JSON-RPC client over HTTP, for the load tool and
// tests. It is safe for concurrent use.
type Client struct {
	url  string
	http *http.Client
	id   atomic.Uint64
}

// NewClient returns a client for an http:// endpoint, keeping up to conns
// connections alive.
func NewClient(url string, conns int) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{url: url, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// URL returns the endpoint.
func (c *Client) URL() string { return c.url }

// BatchElem is one call of a batch. After BatchCall, Err holds its error
// (an *Error for a JSON-RPC error) and Result its decoded result.
type BatchElem struct {
	Method string
	Params []any
	Result any
	Err    error
}

type clientRequest struct {
	Version string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type clientResponse struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// Call makes one call and decodes its result into result (which may be nil).
func (c *Client) Call(ctx context.Context, result any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(clientRequest{Version: "2.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return err
	}
	data, err := c.post(ctx, body)
	if err != nil {
		return err
	}
	var resp clientResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("rpc: decoding the answer to %s: %w", method, err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, result)
}

// BatchCall sends the calls as one batch. It returns an error only if the
// batch as a whole failed; each element carries its own outcome.
func (c *Client) BatchCall(ctx context.Context, calls []BatchElem) error {
	reqs := make([]clientRequest, len(calls))
	byID := make(map[uint64]int, len(calls))
	for i, e := range calls {
		id := c.id.Add(1)
		params := e.Params
		if params == nil {
			params = []any{}
		}
		reqs[i] = clientRequest{Version: "2.0", ID: id, Method: e.Method, Params: params}
		byID[id] = i
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return err
	}
	data, err := c.post(ctx, body)
	if err != nil {
		return err
	}
	var resps []clientResponse
	if err := json.Unmarshal(data, &resps); err != nil {
		var single clientResponse // the server refused the batch whole
		if json.Unmarshal(data, &single) == nil && single.Error != nil {
			return single.Error
		}
		return fmt.Errorf("rpc: decoding a batch answer: %w", err)
	}
	for i := range calls {
		calls[i].Err = fmt.Errorf("rpc: no answer to call %d", i)
	}
	for _, r := range resps {
		i, ok := byID[r.ID]
		if !ok {
			continue
		}
		switch {
		case r.Error != nil:
			calls[i].Err = r.Error
		case calls[i].Result != nil:
			calls[i].Err = json.Unmarshal(r.Result, calls[i].Result)
		default:
			calls[i].Err = nil
		}
	}
	return nil
}

func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var single clientResponse
		if json.Unmarshal(data, &single) == nil && single.Error != nil {
			return nil, single.Error
		}
		return nil, fmt.Errorf("rpc: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	return data, nil
}
