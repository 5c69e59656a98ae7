package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
	"github.com/bizra/node0/rpc"
)

// proxy is an endpoint in front of the node at url that records what it
// receives and passes each request on, unless refuse (if set) answers it
// itself.
type proxy struct {
	url    string
	mu     sync.Mutex
	bodies [][]byte
	remote map[string]bool // the client connections seen
	n      atomic.Int64
}

// refuse sees the k-th eth_sendRawTransaction request.
func newProxy(t *testing.T, target string, refuse func(k int64) []byte) *proxy {
	t.Helper()
	p := &proxy{remote: map[string]bool{}}
	fwd := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.remote[req.RemoteAddr] = true
		p.mu.Unlock()
		if refuse != nil && bytes.Contains(body, []byte("eth_sendRawTransaction")) {
			k := p.n.Add(1)
			if ans := refuse(k); ans != nil {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(ans)
				return
			}
		}
		resp, err := fwd.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// sends returns the eth_sendRawTransaction requests the proxy received, and
// how many came as batches.
func (p *proxy) sends(t *testing.T) (objects, batches int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bodies {
		if !bytes.Contains(b, []byte("eth_sendRawTransaction")) {
			continue
		}
		switch bytes.TrimSpace(b)[0] {
		case '{':
			var req struct {
				Version string            `json:"jsonrpc"`
				ID      json.RawMessage   `json:"id"`
				Method  string            `json:"method"`
				Params  []json.RawMessage `json:"params"`
			}
			if err := json.Unmarshal(b, &req); err != nil || req.Version != "2.0" || len(req.ID) == 0 || len(req.Params) != 1 {
				t.Fatalf("request %s: not a JSON-RPC request object with one parameter (%v)", b, err)
			}
			objects++
		case '[':
			batches++
		}
	}
	return objects, batches
}

// Batch 1 sends plain request objects, one transfer each, over keep-alive
// connections; a larger batch sends JSON-RPC arrays.
func TestRunLoadOnePerRequest(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 20, 400, 800, 1, 4
	cfg.Settle = 15 * time.Second
	// The first run funds the accounts for both, straight at the node.
	wantAllCommitted(t, runLoad(t, c, cfg).rep, 400)

	p := newProxy(t, url, nil)
	cfg.Endpoints = []string{p.url}
	r := runLoad(t, c, cfg)
	wantAllCommitted(t, r.rep, 400)
	if r.rep.Transfers != 400 || r.rep.Retries != 0 {
		t.Fatalf("want 400 transfers offered, no retries; report %+v", r.rep)
	}
	checkAgainstChain(t, c, r)
	checkClocks(t, r)
	objects, batches := p.sends(t)
	if objects != 400 || batches != 0 {
		t.Fatalf("the node received %d request objects and %d batches, want 400 objects", objects, batches)
	}
	p.mu.Lock()
	conns := len(p.remote)
	p.mu.Unlock()
	// Funding and the follower use their own clients; the senders at most 4.
	if conns > 4+2 {
		t.Fatalf("%d client connections for 4 senders: keep-alive not kept", conns)
	}

	p2 := newProxy(t, url, nil)
	cfg.Endpoints, cfg.Batch, cfg.Txs = []string{p2.url}, 10, 200
	r = runLoad(t, c, cfg)
	wantAllCommitted(t, r.rep, 200)
	if objects, batches := p2.sends(t); objects != 0 || batches != 20 {
		t.Fatalf("batch 10: the node received %d request objects and %d batches, want 20 batches", objects, batches)
	}
}

// A proxy refuses every third request with -32005 "txpool is full": each
// refused transfer is sent again, nothing after it goes first, and every
// transfer commits with consecutive nonces.
func TestRunLoadRetriesRefusals(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	refusal := func(k int64) []byte {
		if k%3 != 0 {
			return nil
		}
		return []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"txpool is full","data":{"reason":"test","retry_after_ms":5}}}`)
	}
	p := newProxy(t, url, refusal)
	cfg := devFunders()
	cfg.Endpoints = []string{p.url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 6, 300, 0, 1, 3
	cfg.Settle = 15 * time.Second
	// Funding goes straight to the node, so that only the load meets the
	// proxy's refusals.
	fundOnly := cfg
	fundOnly.Endpoints, fundOnly.Txs = []string{url}, 6
	runLoad(t, c, fundOnly)

	cfg.Record = true
	r := runLoad(t, c, cfg)
	rep := r.rep
	if rep.Refused == 0 || rep.Rejected["-32005 txpool is full [test]"] != rep.Refused || len(rep.Rejected) != 1 {
		t.Fatalf("want the refusals counted by code, message and reason; report %+v", rep)
	}
	if rep.Transfers != 300 || rep.Sent != 300+rep.Refused || rep.Retries != rep.Refused {
		t.Fatalf("want 300 transfers, each refusal retried once more; report %+v", rep)
	}
	if rep.Accepted != 300 || rep.Committed != 300 || rep.Lost != 0 || rep.Unconfirmed != 0 || rep.Stopped != 0 {
		t.Fatalf("want all 300 accepted and committed; report %+v", rep)
	}
	if len(rep.AcceptedTxs) != 300 {
		t.Fatalf("recorded %d accepted hashes, want 300", len(rep.AcceptedTxs))
	}
	checkAgainstChain(t, c, r) // consecutive nonces: no gap
}

// closedURL is an endpoint nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// Of three endpoints, one refuses connections and one loses every answer
// after the node carried the call out: their transfers go again to the next
// endpoint, nothing is lost, and the nonces stay consecutive. A transfer
// answered "already known" on its retry counts as accepted, without a
// returned hash.
func TestRunLoadRetriesOnNextEndpoint(t *testing.T) {
	// Blocks far apart enough that a retry finds its transfer still in
	// the pool.
	url := startNode(t, 500*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Batch, cfg.Conns = 6, 6, 1, 3
	cfg.Settle = 15 * time.Second
	runLoad(t, c, cfg) // fund through the node itself

	cfg.Endpoints = []string{closedURL(t), dropAnswers(t, url), url}
	cfg.Txs, cfg.Rate, cfg.Record = 120, 400, true
	r := runLoad(t, c, cfg)
	rep := r.rep
	if rep.Transport["connection refused"] == 0 || rep.Transport["HTTP 502"] == 0 || rep.TransportErrors != rep.Transport["connection refused"]+rep.Transport["HTTP 502"] {
		t.Fatalf("want refused connections and lost answers counted; report %+v", rep)
	}
	if rep.Transfers != 120 || rep.Committed+rep.Unconfirmed != 120 || rep.Lost != 0 || rep.Stopped != 0 {
		t.Fatalf("want all 120 committed, none lost or stopped; report %+v", rep)
	}
	if len(rep.AcceptedTxs) >= rep.Accepted || rep.Accepted > 120 {
		t.Fatalf("%d hashes recorded for %d accepted", len(rep.AcceptedTxs), rep.Accepted)
	}
	checkAgainstChain(t, c, r)
}

// The window's CPU figures read a real node's /metrics.
func TestRunLoadWindowAndNodeCPU(t *testing.T) {
	n := startInProcess(t, 100*time.Millisecond, func(c *node.Config) {
		c.Metrics.Enabled = true
		c.Metrics.ListenAddr = "127.0.0.1:0"
	})
	url, metrics := "http://"+n.RPCAddr(), "http://"+n.MetricsAddr()+"/metrics"
	v, err := scrapeOne(context.Background(), http.DefaultClient, metrics)
	if err != nil || v <= 0 {
		t.Fatalf("process_cpu_seconds_total of a running node: %g, %v", v, err)
	}
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints, cfg.Metrics = []string{url}, []string{metrics}
	cfg.Accounts, cfg.Rate, cfg.Duration, cfg.Warmup, cfg.Batch, cfg.Conns = 20, 400, 2*time.Second, 500*time.Millisecond, 1, 4
	cfg.Settle = 15 * time.Second
	r := runLoad(t, c, cfg)
	w := r.rep.Window
	if w.MetricsError != "" || w.Nodes != 1 || w.NodeCPUSeconds <= 0 || w.NodeUsPerTxPerNode <= 0 || w.NodeCores <= 0 {
		t.Fatalf("node CPU figures missing: %+v", w)
	}
	if w.ClientCPUSeconds <= 0 || w.ClientUsPerRequest <= 0 || w.Requests <= 0 || w.Requests >= r.rep.Sent {
		t.Fatalf("client figures: %+v (sent %d)", w, r.rep.Sent)
	}
	if w.StartSeconds < 0.5 || w.Seconds <= 0 || w.StartSeconds+w.Seconds > r.rep.SendSeconds+0.01 {
		t.Fatalf("window %g s from %g s, sending %g s", w.Seconds, w.StartSeconds, r.rep.SendSeconds)
	}
	if w.Committed <= 0 || w.Blocks <= 0 || w.BlockIntervalMs <= 0 || w.BlockIntervalMaxMs < w.BlockIntervalP95Ms || w.Inclusion.P50 <= 0 {
		t.Fatalf("window block figures: %+v", w)
	}
}

// A cancelled context ends the run promptly, with the report so far.
func TestRunLoadStopsOnCancel(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Rate, cfg.Duration, cfg.Batch, cfg.Conns = 10, 200, time.Minute, 1, 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel at the first progress line that shows transfers sent.
	cfg.Progress = writerFunc(func(b []byte) {
		if s := string(b); strings.Contains(s, "] sent ") && !strings.Contains(s, "] sent 0/") {
			cancel()
		}
	})
	began := time.Now()
	rep, err := RunLoad(ctx, cfg)
	if !errors.Is(err, context.Canceled) || rep == nil || !rep.Interrupted || rep.Sent == 0 {
		t.Fatalf("got %v, report %+v", err, rep)
	}
	if took := time.Since(began); took > 30*time.Second {
		t.Fatalf("took %s to stop", took)
	}
}

func TestParseSendAnswer(t *testing.T) {
	hash := "0x" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, in string
		want     sendAnswer
	}{
		{"hash", `{"jsonrpc":"2.0","id":7,"result":"` + hash + `"}`, sendAnswer{ok: true, hash: chain.Hash{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}}},
		{"hash spaced", `{"id":7, "result": "` + hash + `"}`, sendAnswer{ok: true, hash: chain.Hash{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}}},
		{"full", `{"jsonrpc":"2.0","id":7,"error":{"code":-32005,"message":"txpool is full","data":{"reason":"pool_full","retry_after_ms":250}}}`,
			sendAnswer{isError: true, code: -32005, message: "txpool is full", reason: "pool_full", retryAfterMs: 250}},
		{"string data", `{"jsonrpc":"2.0","id":7,"error":{"code":-32005,"message":"too big","data":"answer too large"}}`,
			sendAnswer{isError: true, code: -32005, message: "too big", reason: "answer too large"}},
		{"no data", `{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"nonce too low: have 3"}}`,
			sendAnswer{isError: true, code: -32000, message: "nonce too low: have 3"}},
		{"not json", `answer dropped`, sendAnswer{}},
		{"short hash", `{"result":"0xabcd"}`, sendAnswer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseSendAnswer([]byte(tc.in)); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	full := parseSendAnswer([]byte(`{"error":{"code":-32005,"message":"txpool is full: 5000 of 5000","data":{"reason":"pool_full"}}}`))
	if k := full.key(); k != "-32005 txpool is full [pool_full]" || !full.retryable() {
		t.Fatalf("key %q, retryable %v", k, full.retryable())
	}
	if low := parseSendAnswer([]byte(`{"error":{"code":-32000,"message":"nonce too low"}}`)); low.retryable() {
		t.Fatal("nonce too low counted as a refusal to retry")
	}
}

func TestAppendSendRaw(t *testing.T) {
	raw := []byte{0x02, 0xf8, 0x6b, 0x00, 0xff}
	b := appendSendRaw(nil, 42, raw)
	var req struct {
		Version string   `json:"jsonrpc"`
		ID      uint64   `json:"id"`
		Method  string   `json:"method"`
		Params  []string `json:"params"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Version != "2.0" || req.ID != 42 || req.Method != "eth_sendRawTransaction" || len(req.Params) != 1 || req.Params[0] != "0x02f86b00ff" {
		t.Fatalf("%s", b)
	}
	if again := appendSendRaw(b[:0], 42, raw); !bytes.Equal(again, b) {
		t.Fatal("reusing the buffer changed the request")
	}
}

func TestParseCPUSeconds(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     float64
		err      bool
	}{
		{"plain", "# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n", 12.5, false},
		{"labels and timestamp", "process_cpu_seconds_totalx 1\nprocess_cpu_seconds_total{job=\"a\"} 3e1 1700000000\n", 30, false},
		{"missing", "go_goroutines 7\n", 0, true},
		{"bad value", "process_cpu_seconds_total NaN\n", 0, true},
		{"negative", "process_cpu_seconds_total -1\n", 0, true},
		{"unterminated", "process_cpu_seconds_total{a=\"b\" 1\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCPUSeconds(strings.NewReader(tc.in))
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("got %g, %v; want %g (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// fillWindow keeps to the blocks and the transfers of the window.
func TestFillWindow(t *testing.T) {
	start := time.UnixMilli(1_000_000)
	at := func(ms int64) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	tx := func(sent, seen int64) *loadTx {
		t := &loadTx{sentMs: start.UnixMilli() + sent}
		t.flags.Store(flagAnswered | flagAccepted | flagCommitted)
		t.seenMs.Store(start.UnixMilli() + seen)
		return t
	}
	r := &loadRun{
		cfg: LoadConfig{Metrics: []string{"http://a", "http://b"}},
		rep: &LoadReport{},
		// Only those sent in [1000, 3000] count.
		txs: []*loadTx{tx(500, 900), tx(1000, 1500), tx(2000, 2300), tx(2500, 3400), tx(3500, 3600)},
	}
	// Blocks by their timestamps: 6 and 7 fall in the window.
	follow := &follower{blocks: []blockSeen{
		{number: 5, tsMs: start.UnixMilli() + 900, seenMs: start.UnixMilli() + 1100, txs: 10},
		{number: 6, tsMs: start.UnixMilli() + 1900, seenMs: start.UnixMilli() + 3100, txs: 100}, // seen late, made in the window
		{number: 7, tsMs: start.UnixMilli() + 2900, seenMs: start.UnixMilli() + 3200, txs: 200},
		{number: 8, tsMs: start.UnixMilli() + 3100, seenMs: start.UnixMilli() + 3400, txs: 50},
	}}
	marks := [2]windowMark{
		{at: at(1000), clientCPU: time.Second, requests: 100, nodeCPU: []float64{10, 20}},
		{at: at(3000), clientCPU: 2 * time.Second, requests: 600, nodeCPU: []float64{10.3, 20.3}},
	}
	r.fillWindow(marks, follow, start)
	w := r.rep.Window
	want := LoadWindow{
		StartSeconds: 1, Seconds: 2, Requests: 500, RequestsPS: 250,
		Committed: 300, CommittedPS: 150, Blocks: 2,
		BlockIntervalMs: 1000, BlockIntervalP95Ms: 1000, BlockIntervalMaxMs: 1000, TxsPerBlock: 150,
		Inclusion:        Latency{P50: 500, P95: 900, P99: 900, Max: 900},
		ClientCPUSeconds: 1, ClientCores: 0.5, ClientUsPerRequest: 2000,
		Nodes: 2, NodeCPUSeconds: 0.6, NodeCores: 0.3, NodeUsPerTxPerNode: 1000,
	}
	const eps = 1e-9
	near := func(a, b float64) bool { return a-b < eps && b-a < eps }
	if w.Requests != want.Requests || w.Committed != want.Committed || w.Blocks != want.Blocks || w.Nodes != want.Nodes || w.Inclusion != want.Inclusion ||
		!near(w.Seconds, want.Seconds) || !near(w.StartSeconds, want.StartSeconds) || !near(w.BlockIntervalMs, want.BlockIntervalMs) ||
		!near(w.TxsPerBlock, want.TxsPerBlock) || !near(w.ClientUsPerRequest, want.ClientUsPerRequest) ||
		!near(w.NodeCPUSeconds, want.NodeCPUSeconds) || !near(w.NodeUsPerTxPerNode, want.NodeUsPerTxPerNode) || !near(w.NodeCores, want.NodeCores) ||
		!near(w.RequestsPS, want.RequestsPS) || !near(w.CommittedPS, want.CommittedPS) || !near(w.BlockIntervalP95Ms, want.BlockIntervalP95Ms) ||
		!near(w.BlockIntervalMaxMs, want.BlockIntervalMaxMs) || !near(w.ClientCores, want.ClientCores) || !near(w.ClientCPUSeconds, want.ClientCPUSeconds) {
		t.Fatalf("window\n got %+v\nwant %+v", w, want)
	}
	r.rep.Window = LoadWindow{}
	marks[1].err = fmt.Errorf("metrics b: connection refused")
	r.fillWindow(marks, follow, start)
	if w := r.rep.Window; w.MetricsError == "" || w.Nodes != 0 || w.NodeCPUSeconds != 0 || w.ClientCPUSeconds != 1 {
		t.Fatalf("a failed scrape: %+v", w)
	}
}

// writerFunc is an io.Writer that hands each write to a function.
type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }
