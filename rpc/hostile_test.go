package rpc

// Probes of issue 12: clients that ask for answers too large, address the
// server by a foreign name, post from a foreign page, open connections and
// subscriptions without end, or read their notifications slowly. Each runs
// against a real server over HTTP and WebSocket.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bizra/node0/chain"
)

// signN signs n transfers from key i, nonces from first on.
func (e *env) signN(i int, first uint64, n int) [][]byte {
	e.t.Helper()
	out := make([][]byte, n)
	for k := range out {
		out[k] = e.sign(i, first+uint64(k), types.DynamicFeeTxType, 1)
	}
	return out
}

// decodeAll decodes raw transactions with their senders recovered, as the
// gossip validator hands them to the pool.
func (e *env) decodeAll(raws [][]byte) []*chain.Tx {
	e.t.Helper()
	out := make([]*chain.Tx, len(raws))
	for i, raw := range raws {
		tx, err := e.chain.Rules().ParseTx(raw)
		if err == nil {
			err = e.chain.Rules().RecoverSender(tx)
		}
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = tx
	}
	return out
}

type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// TestOversizedAnswers asks for answers larger than max_response_bytes:
// each must be refused whole with -32005 "answer too large" and a message
// that names the limit, and no answer, of one call or of a batch, may pass
// the limit by more than the refusals' few bytes.
func TestOversizedAnswers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxResponseBytes = 1 << 16
	e := newEnvWith(t, cfg, envOptions{funded: 1})
	// Block 3 holds 150 transfers: its receipts, or the block with its
	// transactions, are about 100 KB of JSON.
	e.commit(1_780_000_003_000, e.signN(3, 0, 150)...)
	// Then enough empty blocks for the longest fee history with rewards.
	for i := range 130 {
		e.commit(1_780_000_004_000 + uint64(i)*1000)
	}
	percentiles := make([]float64, 100)
	for i := range percentiles {
		percentiles[i] = float64(i)
	}
	pjson, _ := json.Marshal(percentiles)
	call := func(id int, method, params string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params)
	}
	many := func(n int, method, params string) string {
		calls := make([]string, n)
		for i := range calls {
			calls[i] = call(i, method, params)
		}
		return "[" + strings.Join(calls, ",") + "]"
	}
	for _, tc := range []struct {
		name    string
		body    string
		refused []int // ids whose answer must be the refusal
		fits    []int // ids whose answer must be a result
	}{
		{name: "raw blocks", body: call(1, "bizra_getRawBlocks", `["0x0","0x100"]`), refused: []int{1}},
		{name: "raw blocks that fit", body: call(1, "bizra_getRawBlocks", `["0x0","0x3"]`), fits: []int{1}},
		{name: "block receipts", body: call(1, "eth_getBlockReceipts", `["0x3"]`), refused: []int{1}},
		{name: "full block", body: call(1, "eth_getBlockByNumber", `["0x3",true]`), refused: []int{1}},
		{name: "full block by hash", body: call(1, "eth_getBlockByHash", `["`+e.blockHash(3)+`",true]`), refused: []int{1}},
		{name: "block with hashes fits", body: call(1, "eth_getBlockByNumber", `["0x3",false]`), fits: []int{1}},
		{name: "fee history with rewards", body: call(1, "eth_feeHistory", `["0x80","latest",`+string(pjson)+`]`), refused: []int{1}},
		{name: "batch whose first answer is too large", body: "[" + call(1, "eth_getBlockReceipts", `["0x3"]`) + "," + call(2, "eth_chainId", `[]`) + "]", refused: []int{1, 2}},
		{name: "batch with a small answer first", body: "[" + call(1, "eth_chainId", `[]`) + "," + call(2, "eth_getBlockReceipts", `["0x3"]`) + "," + call(3, "eth_chainId", `[]`) + "]", fits: []int{1}, refused: []int{2, 3}},
		{name: "batch of answers that fit one by one", body: many(40, "eth_getBlockByNumber", `["0x3",false]`), fits: []int{0}, refused: []int{39}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %.300s", status, body)
			}
			var answers []rpcAnswer
			if bytes.HasPrefix(body, []byte("[")) {
				mustDecode(t, body, &answers)
			} else {
				var a rpcAnswer
				mustDecode(t, body, &a)
				answers = []rpcAnswer{a}
			}
			t.Logf("answer of %d bytes (limit %d), %d calls", len(body), cfg.MaxResponseBytes, len(answers))
			// A refusal is a short error object: allow 300 bytes each.
			if slack := 300 * len(answers); len(body) > cfg.MaxResponseBytes+slack {
				t.Errorf("answer of %d bytes passes max_response_bytes = %d", len(body), cfg.MaxResponseBytes)
			}
			byID := map[string]rpcAnswer{}
			for _, a := range answers {
				byID[string(a.ID)] = a
			}
			for _, id := range tc.refused {
				a := byID[fmt.Sprint(id)]
				if a.Error == nil || a.Error.Code != CodeLimitExceeded || a.Error.Data != DataTooLarge {
					t.Errorf("call %d: want the refusal, got error %+v and %d bytes of result", id, a.Error, len(a.Result))
					continue
				}
				if !strings.Contains(a.Error.Message, "max_response_bytes") || !strings.Contains(a.Error.Message, "65536") {
					t.Errorf("call %d: the refusal does not name the limit: %q", id, a.Error.Message)
				}
			}
			for _, id := range tc.fits {
				if a := byID[fmt.Sprint(id)]; a.Error != nil || len(a.Result) == 0 {
					t.Errorf("call %d: want a result, got %+v", id, a.Error)
				}
			}
		})
	}
}

func (e *env) blockHash(h uint64) string {
	b, err := e.chain.Store().Block(h)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.ToLower(b.Hash().Hex())
}

// TestForeignHostsAndOrigins: a page on another site (text/plain or form
// POSTs need no CORS preflight) or a DNS-rebinding name must not get a call
// executed; tools that post JSON by address or localhost must.
func TestForeignHostsAndOrigins(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	port := e.http.URL[strings.LastIndex(e.http.URL, ":")+1:]
	nonce := uint64(1)
	for _, tc := range []struct {
		name        string
		cfg         func(*Config)
		host        string // default: the address
		origin      string
		contentType string // default application/json
		status      int
	}{
		{name: "tool by address", status: 200},
		{name: "json with charset", contentType: "application/json; charset=utf-8", status: 200},
		{name: "localhost with port", host: "localhost:" + port, status: 200},
		{name: "localhost without port", host: "localhost", status: 200},
		{name: "IPv6 loopback", host: "[::1]:" + port, status: 200},
		{name: "text/plain", contentType: "text/plain", status: http.StatusUnsupportedMediaType},
		{name: "text/plain from a foreign page", contentType: "text/plain;charset=UTF-8", origin: "http://evil.example", status: http.StatusUnsupportedMediaType},
		{name: "form from a foreign page", contentType: "application/x-www-form-urlencoded", origin: "http://evil.example", status: http.StatusUnsupportedMediaType},
		{name: "no content type", contentType: "-", status: http.StatusUnsupportedMediaType},
		{name: "json from a foreign page, CORS off", origin: "http://evil.example", status: http.StatusForbidden},
		{name: "json from a listed origin", cfg: func(c *Config) { c.CORSOrigins = []string{"http://localhost:3000"} }, origin: "http://localhost:3000", status: 200},
		{name: "rebinding name", host: "evil.example:" + port, status: http.StatusForbidden},
		{name: "rebinding name from its own page", host: "evil.example:" + port, origin: "http://evil.example:" + port, status: http.StatusForbidden},
		{name: "listed name", cfg: func(c *Config) { c.AllowedHosts = []string{"rpc.example.com"} }, host: "rpc.example.com:443", status: 200},
		{name: "any name allowed", cfg: func(c *Config) { c.AllowedHosts = []string{"*"} }, host: "evil.example:" + port, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ee := e
			if tc.cfg != nil {
				cfg := DefaultConfig()
				tc.cfg(&cfg)
				ee = newEnv(t, cfg)
			}
			before := ee.pool.Len()
			raw := ee.sign(1, nonce, types.DynamicFeeTxType, 1)
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["%s"]}`, hexutil.Encode(raw))
			req, _ := http.NewRequest(http.MethodPost, ee.http.URL, strings.NewReader(body))
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			executed := ee.pool.Len() > before
			if executed && ee == e {
				nonce++
			}
			if resp.StatusCode != tc.status || executed != (tc.status == 200) {
				t.Fatalf("status %d (want %d), executed %v: %.200s", resp.StatusCode, tc.status, executed, out)
			}
		})
	}
	// WebSocket: the same names; an Origin other than an allowed one is
	// refused already.
	for _, tc := range []struct {
		name   string
		host   string
		origin string
		ok     bool
	}{
		{name: "ws by address", ok: true},
		{name: "ws by localhost", host: "localhost:" + port, ok: true},
		{name: "ws rebinding name", host: "evil.example:" + port},
		{name: "ws rebinding name from its own page", host: "evil.example:" + port, origin: "http://evil.example:" + port},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.host != "" {
				h.Set("Host", tc.host)
			}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http.URL, "http"), h)
			if ws != nil {
				ws.Close()
			}
			if (err == nil) != tc.ok {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				t.Fatalf("dial: %v (status %d), want ok %v", err, status, tc.ok)
			}
			if !tc.ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
				t.Fatalf("refusal %v", resp)
			}
		})
	}
}

// TestWebSocketClientCaps: one client address may hold only so many
// connections and subscriptions; an exempt address (loopback by default)
// is bound by the server-wide caps alone.
func TestWebSocketClientCaps(t *testing.T) {
	url := func(e *env) string { return "ws" + strings.TrimPrefix(e.http.URL, "http") }
	t.Run("connections per client", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ExemptClients = []string{}
		cfg.MaxWSConnsPerClient = 3
		e := newEnv(t, cfg)
		for i := range 3 {
			wsCall(t, dialWS(t, e), i, "eth_chainId")
		}
		ws, resp, err := websocket.DefaultDialer.Dial(url(e), nil)
		if err == nil {
			ws.Close()
			t.Fatal("a fourth connection from one client was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("refusal %v", resp)
		}
	})
	t.Run("subscriptions per client", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ExemptClients = []string{}
		cfg.MaxSubscriptionsPerClient = 5
		e := newEnv(t, cfg)
		a, b := dialWS(t, e), dialWS(t, e)
		for i := range 3 {
			wsCall(t, a, i, "eth_subscribe", "newPendingTransactions")
		}
		for i := range 2 {
			wsCall(t, b, i, "eth_subscribe", "newHeads")
		}
		if err := b.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 9, "method": "eth_subscribe", "params": []any{"newHeads"}}); err != nil {
			t.Fatal(err)
		}
		if msg := wsRead(t, b); !strings.Contains(string(msg), "-32005") || !strings.Contains(string(msg), "max_subscriptions_per_client") {
			t.Fatalf("sixth subscription of one client: %s", msg)
		}
		// Closing a connection gives its subscriptions back.
		a.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if err := b.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 10, "method": "eth_subscribe", "params": []any{"newHeads"}}); err != nil {
				t.Fatal(err)
			}
			if msg := wsRead(t, b); strings.Contains(string(msg), `"result"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the subscriptions of a closed connection still count")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("loopback exempt by default", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxWSConnsPerClient, cfg.MaxSubscriptionsPerClient = 1, 1
		e := newEnv(t, cfg)
		for range 3 {
			ws := dialWS(t, e)
			wsCall(t, ws, 1, "eth_subscribe", "newHeads")
			wsCall(t, ws, 2, "eth_subscribe", "newHeads")
		}
	})
}

// wsReader counts the pending-transaction hashes one connection receives.
type wsReader struct {
	mu     sync.Mutex
	hashes map[string]int // hash → notifications
	frames int
	err    error
	done   chan struct{}
}

func readNotifications(ws *websocket.Conn) *wsReader {
	r := &wsReader{hashes: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, msg, err := ws.ReadMessage()
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
				return
			}
			var n struct {
				Params struct {
					Result string `json:"result"`
				} `json:"params"`
			}
			_ = json.Unmarshal(msg, &n)
			r.mu.Lock()
			r.frames++
			if n.Params.Result != "" {
				r.hashes[n.Params.Result]++
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *wsReader) count() (hashes, notes int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.hashes {
		notes += c
	}
	return len(r.hashes), notes, r.err
}

// TestSlowConsumers: a burst of admissions larger than any per-message
// queue reaches a client that reads, on every one of its subscriptions; a
// client that stops reading is closed without holding up the others.
func TestSlowConsumers(t *testing.T) {
	cfg := DefaultConfig()
	e := newEnvWith(t, cfg, envOptions{fedPool: true, funded: 3})
	m := NopMetrics()
	e.srv.metrics = m
	e.srv.wsBacklog = 4000 // above the first burst, reached by the stream after it
	reader := dialWS(t, e)
	wsCall(t, reader, 1, "eth_subscribe", "newPendingTransactions")
	wsCall(t, reader, 2, "eth_subscribe", "newPendingTransactions")
	// A client with 100 subscriptions that stops reading once it has
	// their ids: each hash is 100 notifications for it.
	stalled := dialWS(t, e)
	for i := range 100 {
		wsCall(t, stalled, i, "eth_subscribe", "newPendingTransactions")
	}
	r := readNotifications(reader)
	// 3,000 transfers from three fresh senders, admitted as gossip batches
	// of 500 with their senders recovered: faster than a socket writes.
	var txs []*chain.Tx
	for k := 3; k < 6; k++ {
		txs = append(txs, e.decodeAll(e.signN(k, 0, 1000))...)
	}
	for lo := 0; lo < len(txs); lo += 500 {
		for i, err := range e.pool.AddTxs(txs[lo : lo+500]) {
			if err != nil {
				t.Fatalf("tx %d: %v", lo+i, err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		hashes, notes, err := r.count()
		if hashes == len(txs) && notes == 2*len(txs) {
			t.Logf("the reading client got %d hashes on each of its 2 subscriptions", hashes)
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("the reading client got %d distinct hashes, %d notifications of %d, then: %v", hashes, notes, 2*len(txs), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Now a steady stream, paced by the reading client (it never lags
	// more than 1,000 hashes): the stalled one's socket fills, its backlog
	// passes the bound, and it is closed; the reader misses nothing.
	sent := len(txs)
	deadline = time.Now().Add(30 * time.Second)
	for sent < len(txs)+20_000 && testutil.ToFloat64(m.WSSlowClosed) == 0 {
		if hashes, _, err := r.count(); err != nil || time.Now().After(deadline) {
			t.Fatalf("the reading client got %d of %d hashes, then: %v", hashes, sent, err)
		} else if hashes < sent-1000 {
			time.Sleep(time.Millisecond)
			continue
		}
		for range 200 {
			var h chain.Hash
			binary.BigEndian.PutUint64(h[:], uint64(sent))
			e.srv.feed.NotifyTx(&chain.Tx{Hash: h})
			sent++
		}
	}
	if testutil.ToFloat64(m.WSSlowClosed) != 1 {
		t.Fatalf("%d hashes later the stalled client is still open", sent-len(txs))
	}
	for {
		hashes, notes, err := r.count()
		if hashes == sent && notes == 2*sent {
			t.Logf("the stalled client was closed after %d more hashes; the reader got all %d", sent-len(txs), sent)
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("the reading client got %d of %d hashes, %d notifications, then: %v", hashes, sent, notes, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutil.ToFloat64(m.WSConns); n != 1 {
		t.Fatalf("%v connections open, want the reader's alone", n)
	}
}

// TestFeedNeverBlocks: with subscribers and no goroutine taking events, an
// admission still returns at once; what does not fit the queue is dropped
// and counted.
func TestFeedNeverBlocks(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	f := NewFeed(chainAdapter{e.chain}, nil)
	m := NopMetrics()
	f.setMetrics(m)
	f.active[kindIndex(subPending)].Store(1) // a subscriber, and no pass ever runs
	f.active[kindIndex(subHeads)].Store(1)
	tx := &chain.Tx{}
	for range feedPendingQueue + 10 {
		f.NotifyTx(tx)
	}
	b, _ := e.chain.Store().Block(1)
	for range feedHeadQueue + 3 {
		f.NotifyBlock(b)
	}
	if got := testutil.ToFloat64(m.FeedDropped.WithLabelValues(subPending)); got != 10 {
		t.Errorf("%v pending hashes dropped, want 10", got)
	}
	if got := testutil.ToFloat64(m.FeedDropped.WithLabelValues(subHeads)); got != 3 {
		t.Errorf("%v heads dropped, want 3", got)
	}
}

// TestDefaultRateLimit: by default one client address gets a rate a
// public node can serve many of (each call of a batch counts); loopback,
// where the node's own tools and a local testnet's load generator run, is
// exempt unless configured otherwise.
func TestDefaultRateLimit(t *testing.T) {
	d := DefaultConfig()
	if d.RateLimit <= 0 || d.RateLimit > 10_000 || d.RateBurst > 10_000 {
		t.Errorf("default rate limit %g calls/s, burst %d: not a limit a public node can give every client", d.RateLimit, d.RateBurst)
	}
	batch := func(n int) string {
		calls := make([]string, n)
		for i := range calls {
			calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_chainId"}`, i)
		}
		return "[" + strings.Join(calls, ",") + "]"
	}
	for _, tc := range []struct {
		name    string
		exempt  []string
		limited bool
	}{
		{name: "remote client", exempt: []string{}, limited: true},
		{name: "loopback, exempt by default", exempt: DefaultConfig().ExemptClients},
		{name: "other addresses exempt", exempt: []string{"10.0.0.0/8"}, limited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ExemptClients = tc.exempt
			e := newEnv(t, cfg)
			limited, calls := 0, 0
			for range 12 { // 12,000 calls, faster than any default rate
				_, body := e.post(batch(1000))
				calls += 1000
				if strings.Contains(string(body), "rate limit") {
					limited++
				}
			}
			t.Logf("%d of 12 batches of 1,000 calls refused", limited)
			if (limited > 0) != tc.limited {
				t.Fatalf("%d of 12 batches refused, want limited %v", limited, tc.limited)
			}
		})
	}
}
