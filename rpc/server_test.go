package rpc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestProtocol(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBatch = 3
	cfg.MaxBodyBytes = 2048
	e := newEnv(t, cfg)
	cases := []struct {
		name   string
		body   string
		status int
		want   string // exact body, or
		has    []string
	}{
		{name: "single", body: `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, status: 200, want: `{"jsonrpc":"2.0","id":1,"result":"0x7a69"}`},
		{name: "string id, no params", body: `{"jsonrpc":"2.0","id":"a","method":"eth_chainId"}`, status: 200, want: `{"jsonrpc":"2.0","id":"a","result":"0x7a69"}`},
		{name: "null id is answered", body: `{"jsonrpc":"2.0","id":null,"method":"eth_chainId"}`, status: 200, want: `{"jsonrpc":"2.0","id":null,"result":"0x7a69"}`},
		{name: "notification gets no answer", body: `{"jsonrpc":"2.0","method":"eth_chainId"}`, status: 204, want: ``},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"net_version"}]`, status: 200,
			want: `[{"jsonrpc":"2.0","id":1,"result":"0x7a69"},{"jsonrpc":"2.0","id":2,"result":"31337"}]`},
		{name: "batch with a notification and a bad call", body: `[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"nope"},1]`, status: 200,
			has: []string{`"id":2,"error":{"code":-32601`, `"id":null,"error":{"code":-32600`}},
		{name: "batch of notifications only", body: `[{"jsonrpc":"2.0","method":"eth_chainId"}]`, status: 204, want: ``},
		{name: "empty batch", body: `[]`, status: 200, has: []string{`-32600`, "empty batch"}},
		{name: "batch over the limit", body: `[` + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},`, 3) + `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]`, status: 200, has: []string{`-32005`, "exceeds the limit of 3"}},
		{name: "parse error", body: `{"jsonrpc":"2.0","id":1,"method":`, status: 200, has: []string{`"id":null`, `-32700`}},
		{name: "not an object", body: `"eth_chainId"`, status: 200, has: []string{`-32600`}},
		{name: "wrong version", body: `{"jsonrpc":"1.0","id":5,"method":"eth_chainId"}`, status: 200, has: []string{`"id":5`, `-32600`}},
		{name: "missing method", body: `{"jsonrpc":"2.0","id":5}`, status: 200, has: []string{`-32600`, "method is missing"}},
		{name: "method of wrong type", body: `{"jsonrpc":"2.0","id":5,"method":7}`, status: 200, has: []string{`-32600`}},
		{name: "object id", body: `{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}`, status: 200, has: []string{`-32600`}},
		{name: "params of wrong type", body: `{"jsonrpc":"2.0","id":5,"method":"eth_chainId","params":"x"}`, status: 200, has: []string{`-32600`}},
		{name: "named params refused", body: `{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":{"address":"0x00"}}`, status: 200, has: []string{`-32602`}},
		{name: "huge number", body: `{"jsonrpc":"2.0","id":5,"method":"eth_getBlockByNumber","params":["0x` + strings.Repeat("f", 80) + `",false]}`, status: 200, has: []string{`-32602`}},
		{name: "empty body", body: ``, status: 200, has: []string{`-32600`}},
		{name: "body over the limit", body: `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", 3000) + `"]}`, status: 413, has: []string{`-32005`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, body)
			}
			if tc.has == nil && string(body) != tc.want {
				t.Fatalf("got %s\nwant %s", body, tc.want)
			}
			for _, h := range tc.has {
				if !strings.Contains(string(body), h) {
					t.Fatalf("%s does not contain %s", body, h)
				}
			}
		})
	}
	t.Run("GET without upgrade", func(t *testing.T) {
		resp, err := http.Get(e.http.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestRateLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RateLimit, cfg.RateBurst, cfg.MaxBatch = 1, 5, 5
	cfg.ExemptClients = nil // the test's client is loopback
	m := NewMetrics(nil)
	e := newEnv(t, cfg)
	e.srv.metrics = m
	for i := range 5 {
		if _, rerr := e.call("eth_chainId"); rerr != nil {
			t.Fatalf("call %d: %v", i, rerr)
		}
	}
	if _, rerr := e.call("eth_chainId"); rerr == nil || rerr.Code != CodeLimitExceeded {
		t.Fatalf("sixth call within the burst: %+v", rerr)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues("any", "limited")); v != 1 {
		t.Fatalf("limited counter %v", v)
	}
	// A batch counts each call: of four tokens a batch of three leaves
	// one, so a batch of two is refused and one call passes.
	cfg.RateLimit, cfg.RateBurst, cfg.MaxBatch = 0.001, 4, 4
	e = newEnv(t, cfg)
	batch := func(n int) string {
		calls := make([]string, n)
		for i := range calls {
			calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_chainId"}`, i)
		}
		return "[" + strings.Join(calls, ",") + "]"
	}
	if _, body := e.post(batch(3)); strings.Contains(string(body), "rate limit") {
		t.Fatalf("batch of 3 with 4 tokens: %s", body)
	}
	if _, body := e.post(batch(2)); !strings.Contains(string(body), "rate limit") {
		t.Fatalf("batch of 2 with 1 token: %s", body)
	}
	if _, body := e.post(batch(1)); strings.Contains(string(body), "rate limit") {
		t.Fatalf("batch of 1 with 1 token: %s", body)
	}
}

func TestResponseSizeLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxResponseBytes = 1 << 16
	e := newEnv(t, cfg)
	calls := make([]string, 60)
	for i := range calls {
		calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["0x1",true]}`, i)
	}
	_, body := e.post("[" + strings.Join(calls, ",") + "]")
	var resps []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	mustDecode(t, body, &resps)
	if len(resps) != 60 || resps[0].Error != nil || resps[59].Error == nil || resps[59].Error.Code != CodeLimitExceeded || resps[59].Error.Data != DataTooLarge {
		t.Fatalf("%d answers; first error %+v, last error %+v", len(resps), resps[0].Error, resps[59].Error)
	}
	if len(body) > 2*cfg.MaxResponseBytes {
		t.Fatalf("answer of %d bytes", len(body))
	}
}

// TestSubscriptionIDBeforeNotifications floods notifications while clients
// subscribe: each client's first frame must be the answer with its id.
func TestSubscriptionIDBeforeNotifications(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	tx, err := e.pool.Add(e.sign(1, 1, types.DynamicFeeTxType, 5))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				// Tens of thousands a second: enough to race every
				// subscription, not so many that the server rightly drops
				// the client as too slow before its first frame is written.
				for range 50 {
					e.srv.feed.NotifyTx(tx)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 40 {
		ws := dialWS(t, e)
		if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": []any{"newPendingTransactions"}}); err != nil {
			t.Fatal(err)
		}
		if first := wsRead(t, ws); !strings.Contains(string(first), `"id":1`) {
			t.Fatalf("connection %d: first frame %s", i, first)
		}
		ws.Close()
	}
}

func TestCORS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		origins []string
		origin  string
		allowed bool
	}{
		{"off by default", nil, "http://evil.example", false},
		{"listed origin", []string{"http://localhost:3000"}, "http://localhost:3000", true},
		{"other origin", []string{"http://localhost:3000"}, "http://other:1", false},
		{"wildcard", []string{"*"}, "http://anything:1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CORSOrigins = tc.origins
			e := newEnv(t, cfg)
			req, _ := http.NewRequest(http.MethodOptions, e.http.URL, nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("Access-Control-Allow-Origin") == tc.origin && resp.StatusCode == http.StatusNoContent
			if got != tc.allowed {
				t.Fatalf("preflight from %s: status %d, allow-origin %q", tc.origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
}

func dialWS(t *testing.T, e *env) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func wsCall(t *testing.T, ws *websocket.Conn, id int, method string, params ...any) json.RawMessage {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params}); err != nil {
		t.Fatal(err)
	}
	for {
		msg := wsRead(t, ws)
		var resp struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *Error          `json:"error"`
		}
		mustDecode(t, msg, &resp)
		if resp.ID == nil || *resp.ID != id {
			continue // a notification
		}
		if resp.Error != nil {
			t.Fatalf("%s: %+v", method, resp.Error)
		}
		return resp.Result
	}
}

func wsRead(t *testing.T, ws *websocket.Conn) json.RawMessage {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestWebSocketSubscriptions(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	ws := dialWS(t, e)
	if got := string(wsCall(t, ws, 1, "eth_chainId")); got != `"0x7a69"` {
		t.Fatalf("chain id over ws: %s", got)
	}
	var heads, pending string
	mustDecode(t, wsCall(t, ws, 2, "eth_subscribe", "newHeads"), &heads)
	mustDecode(t, wsCall(t, ws, 3, "eth_subscribe", "newPendingTransactions"), &pending)

	// A pending transaction, then a block.
	raw := e.sign(1, 1, types.DynamicFeeTxType, 5)
	tx, err := e.pool.Add(raw)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.feed.NotifyTx(tx)
	p := e.commit(1_780_000_009_000, e.sign(0, 2, types.LegacyTxType, 1))
	e.srv.feed.NotifyBlock(p.Block)

	type note struct {
		Method string `json:"method"`
		Params struct {
			Subscription string          `json:"subscription"`
			Result       json.RawMessage `json:"result"`
		} `json:"params"`
	}
	// The feed sends pending hashes and heads from separate queues: the
	// two may come in either order.
	var n1, n2 note
	mustDecode(t, wsRead(t, ws), &n1)
	mustDecode(t, wsRead(t, ws), &n2)
	if n1.Params.Subscription == heads {
		n1, n2 = n2, n1
	}
	if n1.Method != "eth_subscription" || n1.Params.Subscription != pending || string(n1.Params.Result) != `"`+strings.ToLower(tx.Hash.Hex())+`"` {
		t.Fatalf("pending notification %+v %s", n1, n1.Params.Result)
	}
	if n2.Params.Subscription != heads {
		t.Fatalf("head notification for %s", n2.Params.Subscription)
	}
	var head map[string]json.RawMessage
	mustDecode(t, n2.Params.Result, &head)
	if string(head["number"]) != `"0x3"` || string(head["hash"]) != `"`+strings.ToLower(p.Block.Hash().Hex())+`"` {
		t.Fatalf("head %s", n2.Params.Result)
	}
	if _, ok := head["transactions"]; ok {
		t.Fatal("a head notification carries no transactions")
	}

	// Unsubscribe: true once, then false; no more head notifications.
	if got := string(wsCall(t, ws, 4, "eth_unsubscribe", heads)); got != "true" {
		t.Fatalf("unsubscribe: %s", got)
	}
	if got := string(wsCall(t, ws, 5, "eth_unsubscribe", heads)); got != "false" {
		t.Fatalf("second unsubscribe: %s", got)
	}
	p = e.commit(1_780_000_010_000, e.sign(0, 3, types.LegacyTxType, 1))
	e.srv.feed.NotifyBlock(p.Block)
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 6, "method": "eth_blockNumber", "params": []any{}}); err != nil {
		t.Fatal(err)
	}
	if next := wsRead(t, ws); !strings.Contains(string(next), `"id":6`) {
		t.Fatalf("after unsubscribing, the next frame is %s", next)
	}
	// Unknown kinds are refused.
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "eth_subscribe", "params": []any{"logs"}}); err != nil {
		t.Fatal(err)
	}
	if msg := wsRead(t, ws); !strings.Contains(string(msg), "-32602") {
		t.Fatalf("logs subscription: %s", msg)
	}
}

func TestWebSocketLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWSConns, cfg.MaxSubscriptions = 1, 2
	e := newEnv(t, cfg)
	ws := dialWS(t, e)
	wsCall(t, ws, 1, "eth_subscribe", "newHeads")
	wsCall(t, ws, 2, "eth_subscribe", "newHeads")
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": []any{"newHeads"}}); err != nil {
		t.Fatal(err)
	}
	if msg := wsRead(t, ws); !strings.Contains(string(msg), "too many subscriptions") {
		t.Fatalf("third subscription: %s", msg)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http.URL, "http"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection over the cap: %v %v", err, resp)
	}
	// Closing the connection frees its slot and its subscriptions.
	ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.feed.count(subHeads) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscriptions of a closed connection remain")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ws2 := dialWS(t, e)
	wsCall(t, ws2, 1, "eth_chainId")
}

func TestWebSocketOriginRefused(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	h := http.Header{}
	h.Set("Origin", "http://evil.example")
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http.URL, "http"), h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin WebSocket: %v %v", err, resp)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{ListenAddr: "nowhere", CORSOrigins: []string{"localhost"}, RateLimit: -1}
	err := c.Validate()
	for _, want := range []string{"listen_addr", "max_body_bytes", "max_batch", "rate_limit", "request_timeout", "max_subscriptions", "cors_origins"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestClient(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	c := NewClient(e.http.URL, 2)
	var n hexutil.Uint64
	if err := c.Call(t.Context(), &n, "eth_blockNumber"); err != nil || n != 2 {
		t.Fatalf("blockNumber %d %v", n, err)
	}
	var id hexutil.Uint64
	var bad string
	batch := []BatchElem{{Method: "eth_chainId", Result: &id}, {Method: "eth_getBalance", Params: []any{"0x1"}, Result: &bad}}
	if err := c.BatchCall(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].Err != nil || id != testChainID {
		t.Fatalf("first: %v %d", batch[0].Err, id)
	}
	if e, ok := batch[1].Err.(*Error); !ok || e.Code != CodeInvalidParams {
		t.Fatalf("second: %v", batch[1].Err)
	}
}
