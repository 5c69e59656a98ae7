package testnet

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
	"github.com/bizra/node0/rpc"
)

// These tests check what the load tool counts, against what the node
// committed, and never how fast anything ran: the machine that runs them is
// shared, and the speed of `bizra load` is measured in BENCHMARKS.md. The
// only clock checks are bounds that a slow machine cannot break: a run
// cannot report more time than the test saw pass, and the rate limiter
// cannot have sent faster than its rate.

// startNode starts a devnet-like node in this process with JSON-RPC on a
// free port, after tune (if not nil) adjusted its config, and returns its
// URL. Start returns once every service, JSON-RPC included, is up.
func startNode(t *testing.T, blockTime time.Duration, tune func(*node.Config)) string {
	t.Helper()
	return "http://" + startInProcess(t, blockTime, tune).RPCAddr()
}

// startInProcess is startNode returning the node. The door is off
// (mempool.admit_blocks 0) unless tune turns it on: these tests count every
// answer, and a slow machine (the race detector) lowers the capacity the
// door sees; the tests of the door turn it on.
func startInProcess(t *testing.T, blockTime time.Duration, tune func(*node.Config)) *node.Node {
	t.Helper()
	return startWithGenesis(t, blockTime, func(c *node.Config) {
		c.Mempool.AdmitBlocks = 0
		if tune != nil {
			tune(c)
		}
	}, nil)
}

// startWithGenesis is startInProcess with the genesis edited (if edit is
// not nil) before the node opens it.
func startWithGenesis(t *testing.T, blockTime time.Duration, tune func(*node.Config), edit func(*chain.Genesis)) *node.Node {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	cfg := node.DefaultConfig()
	cfg.Metrics.Enabled = false
	cfg.P2P.Enabled = false
	cfg.RPC.ListenAddr = "127.0.0.1:0"
	if tune != nil {
		tune(&cfg)
	}
	res, err := node.Init(node.InitOptions{Home: home, BlockTime: blockTime, DevAccounts: 10, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(res.Genesis)
		raw, err := json.MarshalIndent(res.Genesis, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(res.Config.Path(res.Config.Chain.GenesisFile), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(c, node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-n.Failed():
			t.Errorf("node failed during the test: %v", n.Err())
		default:
		}
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	if n.RPCAddr() == "" {
		t.Fatal("JSON-RPC has no address after Start")
	}
	return n
}

func devFunders() LoadConfig {
	cfg := DefaultLoadConfig()
	for _, a := range node.DevAccounts(10) {
		cfg.Funders = append(cfg.Funders, a.Key)
	}
	return cfg
}

// loadCall is one RunLoad call as the test saw it: the config, the chain
// before, the report, and the time the call took on the test's clock.
type loadCall struct {
	cfg     LoadConfig
	senders []chain.Address // sending account i of cfg.Seed
	nonces  []uint64        // their nonces before the run
	head    uint64          // the chain's height before the run
	rep     *LoadReport
	elapsed time.Duration
}

// runLoad reads the chain, runs cfg and returns what it needs to check the
// run; it fails the test if RunLoad fails.
func runLoad(t *testing.T, c *rpc.Client, cfg LoadConfig) *loadCall {
	t.Helper()
	ctx := context.Background()
	n := min(cfg.Accounts, cfg.total())
	r := &loadCall{cfg: cfg, senders: make([]chain.Address, n)}
	for i := range n {
		r.senders[i] = crypto.PubkeyToAddress(loadKey(cfg.Seed, i).PublicKey)
	}
	r.nonces = committedNonces(t, c, r.senders)
	var head hexutil.Uint64
	if err := c.Call(ctx, &head, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	r.head = uint64(head)
	began := time.Now()
	rep, err := RunLoad(ctx, cfg)
	r.elapsed = time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	r.rep = rep
	return r
}

// committedNonces returns each address's nonce in the latest block.
func committedNonces(t *testing.T, c *rpc.Client, addrs []chain.Address) []uint64 {
	t.Helper()
	out, err := Nonces(context.Background(), c, addrs, "latest")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// committedTransfer is a transfer of a sending account as a block holds it.
type committedTransfer struct {
	block uint64
	from  int // index of the sending account
	to    chain.Address
	nonce uint64
	value uint64
}

// chainRecord is what the blocks after a run's starting head say about it.
type chainRecord struct {
	transfers []committedTransfer // in chain order
	tsMs      map[uint64]int64    // block timestamps
	head      uint64
}

// readChain reads every block after r.head with its transactions and keeps
// the transfers sent by r's accounts.
func readChain(t *testing.T, c *rpc.Client, r *loadCall) chainRecord {
	t.Helper()
	ctx := context.Background()
	var head hexutil.Uint64
	if err := c.Call(ctx, &head, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	index := make(map[chain.Address]int, len(r.senders))
	for i, a := range r.senders {
		index[a] = i
	}
	rec := chainRecord{tsMs: map[uint64]int64{}, head: uint64(head)}
	for h := r.head + 1; h <= rec.head; h++ {
		var b struct {
			TimestampMs  hexutil.Uint64 `json:"timestampMs"`
			Transactions []struct {
				From  chain.Address  `json:"from"`
				To    *chain.Address `json:"to"`
				Nonce hexutil.Uint64 `json:"nonce"`
				Value *hexutil.Big   `json:"value"`
			} `json:"transactions"`
		}
		if err := c.Call(ctx, &b, "eth_getBlockByNumber", hexutil.Uint64(h), true); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		rec.tsMs[h] = int64(b.TimestampMs)
		for _, tx := range b.Transactions {
			i, ok := index[tx.From]
			if !ok {
				continue // a top-up from a funder
			}
			ct := committedTransfer{block: h, from: i, nonce: uint64(tx.Nonce)}
			if tx.To != nil {
				ct.to = *tx.To
			}
			if tx.Value != nil {
				ct.value = tx.Value.ToInt().Uint64()
			}
			rec.transfers = append(rec.transfers, ct)
		}
	}
	return rec
}

// checkAgainstChain checks the report's counts and block figures against
// the chain: each sending account committed exactly the transfers counted,
// with consecutive nonces in chain order, each 1 wei to the next account;
// the blocks, their timestamps and the transfers per block are the chain's.
func checkAgainstChain(t *testing.T, c *rpc.Client, r *loadCall) {
	t.Helper()
	rep, n := r.rep, len(r.senders)
	rec := readChain(t, c, r)
	if len(rec.transfers) != rep.Committed+rep.Unconfirmed {
		t.Errorf("the chain holds %d transfers of the run, the report %d committed + %d unconfirmed",
			len(rec.transfers), rep.Committed, rep.Unconfirmed)
	}
	next := append([]uint64(nil), r.nonces...)
	for _, tx := range rec.transfers {
		if tx.nonce != next[tx.from] {
			t.Fatalf("block %d: account %d committed nonce %d, want %d (nonces out of order or missing)", tx.block, tx.from, tx.nonce, next[tx.from])
		}
		next[tx.from]++
		if want := r.senders[(tx.from+1)%n]; tx.to != want || tx.value != 1 {
			t.Fatalf("block %d: account %d sent %d wei to %s, want 1 wei to %s", tx.block, tx.from, tx.value, tx.to, want)
		}
	}
	after := committedNonces(t, c, r.senders)
	committed := 0
	for i := range after {
		committed += int(after[i] - r.nonces[i])
		if after[i] != next[i] {
			t.Errorf("account %d: nonce %d on the chain, %d counted from its blocks", i, after[i], next[i])
		}
	}
	if committed != rep.Committed+rep.Unconfirmed {
		t.Errorf("the accounts' nonces moved by %d, the report counts %d committed", committed, rep.Committed+rep.Unconfirmed)
	}
	if len(rec.transfers) == 0 {
		if rep.Blocks != 0 {
			t.Errorf("report counts %d blocks and the chain holds none of the run's transfers", rep.Blocks)
		}
		return
	}
	first, last := rec.transfers[0].block, rec.transfers[len(rec.transfers)-1].block
	if rep.FirstBlock != first || rep.LastBlock != last || rep.Blocks != int(last-first+1) {
		t.Errorf("report: blocks %d..%d (%d), chain: %d..%d", rep.FirstBlock, rep.LastBlock, rep.Blocks, first, last)
	}
	if want := float64(len(rec.transfers)) / float64(last-first+1); rep.TxsPerBlock != want {
		t.Errorf("report: %g transfers per block, chain: %g", rep.TxsPerBlock, want)
	}
	var interval float64
	if last > first {
		interval = float64(rec.tsMs[last]-rec.tsMs[first]) / float64(last-first)
	}
	if rep.BlockIntervalMs != interval || (last > first && interval <= 0) {
		t.Errorf("report: %g ms between blocks, chain timestamps: %g ms", rep.BlockIntervalMs, interval)
	}
}

// checkClocks checks the report's times for order and bounds that hold on
// any machine: latencies present when something committed, positive and
// ordered; no time longer than the call took; and a rate limiter that sent
// no faster than its rate allows.
func checkClocks(t *testing.T, r *loadCall) {
	t.Helper()
	rep, cfg := r.rep, r.cfg
	elapsedMs := float64(r.elapsed.Milliseconds()) + 1 // the tool's clock is in whole ms
	if l := rep.Inclusion; rep.Committed > 0 {
		if !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max && l.Max <= elapsedMs) {
			t.Errorf("inclusion latencies %+v: want 0 < p50 <= p95 <= p99 <= max <= %g ms (the call)", l, elapsedMs)
		}
	} else if l != (Latency{}) {
		t.Errorf("inclusion latencies %+v with nothing committed", l)
	}
	if rep.SignSeconds <= 0 || rep.SendSeconds <= 0 || rep.SignSeconds+rep.SendSeconds > r.elapsed.Seconds() {
		t.Errorf("signing %g s and sending %g s in a call of %s", rep.SignSeconds, rep.SendSeconds, r.elapsed)
	}
	if want := float64(rep.Sent) / rep.SendSeconds; math.Abs(rep.OfferedTPS-want) > 1e-9*want {
		t.Errorf("offered %g tx/s, but %d sent in %g s", rep.OfferedTPS, rep.Sent, rep.SendSeconds)
	}
	if rep.Committed > 0 && rep.CommittedTPS <= 0 {
		t.Errorf("committed %d at %g tx/s", rep.Committed, rep.CommittedTPS)
	}
	if cfg.Rate <= 0 {
		return
	}
	// Each sender holds a batch until its slot: by the time the last batch
	// went out, at most Rate × elapsed had been sent, plus one batch per
	// sender. The committed rate is bounded the same way, its window ending
	// when the tool saw the last commit (whole ms on the tool's clock).
	slack := float64(min(cfg.Conns, len(r.senders)) * cfg.Batch)
	if limit := cfg.Rate*rep.SendSeconds + slack; float64(rep.Sent) > limit {
		t.Errorf("sent %d in %g s at %g tx/s: more than the %g the rate allows", rep.Sent, rep.SendSeconds, cfg.Rate, limit)
	}
	if rep.CommittedTPS > 0 {
		window := float64(rep.Committed) / rep.CommittedTPS
		if limit := cfg.Rate*(window+0.001) + slack; float64(rep.Committed) > limit {
			t.Errorf("committed %d in %g s at %g tx/s offered: more than the %g the rate allows", rep.Committed, window, cfg.Rate, limit)
		}
	}
}

// wantAllCommitted checks that every transfer was sent, accepted and
// committed, and nothing else counted.
func wantAllCommitted(t *testing.T, rep *LoadReport, total int) {
	t.Helper()
	if rep.Sent != total || rep.Accepted != total || rep.Committed != total || rep.Lost != 0 ||
		len(rep.Rejected) != 0 || rep.TransportErrors != 0 || rep.Unconfirmed != 0 {
		t.Fatalf("want all %d sent, accepted and committed, none lost, rejected or unconfirmed; report %+v", total, rep)
	}
}

func TestRunLoadCommitsEverything(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Batch, cfg.Conns = 60, 50, 3
	cfg.Settle = 20 * time.Second
	cfg.Progress = io.Discard
	// The runs share the node: the second, sized by rate and duration,
	// reuses the accounts the first funded and continues their nonces.
	runs := []struct {
		name     string
		txs      int
		rate     float64
		duration time.Duration
		total    int
		nonce    uint64 // every account's before the run
	}{
		{"3000 transfers at 1500 a second", 3000, 1500, 0, 3000, 0},
		{"600 a second for 1 s", 0, 600, time.Second, 600, 50},
	}
	for _, run := range runs {
		ok := t.Run(run.name, func(t *testing.T) {
			cfg.Txs, cfg.Rate, cfg.Duration = run.txs, run.rate, run.duration
			r := runLoad(t, c, cfg)
			wantAllCommitted(t, r.rep, run.total)
			for i, n := range r.nonces {
				if n != run.nonce {
					t.Fatalf("account %d has nonce %d before the run, want %d", i, n, run.nonce)
				}
			}
			checkAgainstChain(t, c, r)
			checkClocks(t, r)
		})
		if !ok {
			return // the next run depends on this one
		}
	}
}

func TestRunLoadAsFastAsAnswered(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 7, 500, 0, 40, 4
	cfg.Settle = 20 * time.Second
	r := runLoad(t, c, cfg)
	wantAllCommitted(t, r.rep, 500)
	checkAgainstChain(t, c, r)
	checkClocks(t, r)
}

// A sender allowed eight transfers in the pool gets the rest of a
// 200-transfer batch refused; the report counts each transfer once, and
// only the accepted ones commit.
func TestRunLoadCountsRejections(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, func(c *node.Config) {
		c.Mempool.MaxPendingPerSender = 8
		c.Mempool.MaxQueuedPerSender = 0
	})
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 1, 200, 0, 200, 1
	cfg.Settle = 20 * time.Second
	r := runLoad(t, c, cfg)
	rep := r.rep
	rejected := 0
	for why, k := range rep.Rejected {
		if why == "" || strings.HasPrefix(why, "transport") || k <= 0 {
			t.Errorf("rejection reason %q counted %d times", why, k)
		}
		rejected += k
	}
	if rep.Sent != 200 || rep.Accepted+rejected+rep.TransportErrors != rep.Sent {
		t.Fatalf("sent %d: %d accepted + %d rejected + %d unanswered", rep.Sent, rep.Accepted, rejected, rep.TransportErrors)
	}
	// Eight fit at once; more only as blocks commit during the one batch,
	// eight per block.
	if rep.Accepted < 8 || rejected == 0 || rep.TransportErrors != 0 {
		t.Fatalf("want at least 8 accepted and some rejected; report %+v", rep)
	}
	if rep.Committed != rep.Accepted || rep.Lost != 0 || rep.Unconfirmed != 0 {
		t.Fatalf("want every accepted transfer committed and nothing else; report %+v", rep)
	}
	checkAgainstChain(t, c, r)
	checkClocks(t, r)
}

// dropAnswers is an endpoint in front of the node at url that passes each
// request on and, once the node has answered, drops the answer: its caller
// sees a transport error for calls the node carried out.
func dropAnswers(t *testing.T, url string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		resp, err := http.Post(url, "application/json", req.Body)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		http.Error(w, "answer dropped", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Two endpoints, the second one losing every answer: the transfers sent
// through it count as transport errors, never as accepted or lost, and as
// unconfirmed at most when the follower happened to see them committed (it
// waits only for the accepted ones).
func TestRunLoadCountsUnansweredTransfers(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url, dropAnswers(t, url)}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 4, 200, 0, 25, 2
	cfg.Settle = 20 * time.Second
	r := runLoad(t, c, cfg)
	rep := r.rep
	// Sender 0 (accounts 0 and 2) goes to the node, sender 1 (accounts 1
	// and 3) through the endpoint that drops answers.
	if rep.Sent != 200 || rep.Accepted != 100 || rep.TransportErrors != 100 || len(rep.Rejected) != 0 {
		t.Fatalf("want 100 accepted and 100 unanswered of 200; report %+v", rep)
	}
	if rep.Committed != 100 || rep.Lost != 0 || rep.Unconfirmed > 100 {
		t.Fatalf("want the 100 accepted committed, at most the 100 unanswered unconfirmed; report %+v", rep)
	}
	after := committedNonces(t, c, r.senders)
	if after[0] != 50 || after[2] != 50 || after[1] > 50 || after[3] > 50 {
		t.Fatalf("nonces after the run %v, want 50 for accounts 0 and 2, at most 50 for 1 and 3", after)
	}
	if onChain := int(after[0] + after[1] + after[2] + after[3]); onChain < rep.Committed+rep.Unconfirmed {
		t.Fatalf("the chain holds %d transfers, the report counts %d committed and %d unconfirmed", onChain, rep.Committed, rep.Unconfirmed)
	}
	checkClocks(t, r)
}

// TestTally sorts hand-marked transfers as the sender and the follower
// would leave them, and checks every figure the report derives.
func TestTally(t *testing.T) {
	const (
		acc  = flagAnswered | flagAccepted
		comm = flagCommitted
	)
	start := time.UnixMilli(1_000_000)
	tx := func(flags int32, latencyMs int64) *loadTx {
		t := &loadTx{sentMs: start.UnixMilli() + 10}
		t.flags.Store(flags)
		if flags&comm != 0 {
			t.seenMs.Store(t.sentMs + latencyMs)
		}
		return t
	}
	r := &loadRun{
		rep: &LoadReport{SendSeconds: 3, Rejected: map[string]int{}},
		txs: []*loadTx{
			tx(acc|comm, 300), tx(acc|comm, 100), tx(acc|comm, 200), // committed
			tx(acc, 0), tx(acc, 0), // accepted, never seen: lost
			tx(comm, 150),              // no answer, yet committed
			tx(flagAnswered|comm, 150), // refused (say, already known), yet committed
			tx(flagAnswered, 0),        // refused
			tx(0, 0),                   // no answer, not committed
		},
	}
	// Blocks 7 and 11 hold none of ours and fall outside the span.
	follow := &follower{blocks: []blockSeen{
		{number: 7, tsMs: 900_000, seenMs: 1_000_100},
		{number: 8, tsMs: 1_000_000, seenMs: 1_000_200, ours: 2},
		{number: 9, tsMs: 1_000_250, seenMs: 1_000_300},
		{number: 10, tsMs: 1_000_500, seenMs: 1_000_500, ours: 3},
		{number: 11, tsMs: 1_000_750, seenMs: 1_000_800},
	}}
	r.sent.Store(10) // one retry
	r.offered.Store(9)
	r.retries.Store(1)
	r.accepted.Store(5)
	r.refused.Store(1)
	r.transport.Store(2)
	r.tally(start, follow)
	want := LoadReport{
		Sent: 10, Transfers: 9, Retries: 1, Accepted: 5, Refused: 1, TransportErrors: 2,
		SendSeconds: 3, Rejected: map[string]int{},
		Committed: 3, Lost: 2, Unconfirmed: 2,
		OfferedTPS:   10.0 / 3,
		CommittedTPS: 3 / 0.5, // the last of ours seen 500 ms after start
		Inclusion:    Latency{P50: 200, P95: 300, P99: 300, Max: 300},
		Blocks:       3, FirstBlock: 8, LastBlock: 10,
		BlockIntervalMs: 250,
		TxsPerBlock:     5.0 / 3,
	}
	if !reflect.DeepEqual(*r.rep, want) {
		t.Fatalf("tally\n got %+v\nwant %+v", *r.rep, want)
	}
}

// TestWaitSlot holds a batch until its slot and no longer than the
// context lasts. Only a lower bound on the wait is checked: a busy machine
// can make it later, never earlier.
func TestWaitSlot(t *testing.T) {
	start := time.Now()
	// Transfer 50 at 1,000 a second is due 50 ms after start.
	if !waitSlot(context.Background(), start, 50, 1000) {
		t.Fatal("waitSlot gave up without a cancelled context")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("batch due at 50 ms released after %s", waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if waitSlot(ctx, time.Now(), 1_000_000, 1) {
		t.Fatal("a batch due in 11 days went out after the context ended")
	}
	if !waitSlot(ctx, start, 0, 1000) || !waitSlot(ctx, time.Now(), 1_000_000, 0) {
		t.Fatal("a batch already due, or without a rate, was held")
	}
}

// TestMark completes "accepted and committed" exactly once, whichever side
// marks first, with the two sides racing.
func TestMark(t *testing.T) {
	txs := make([]loadTx, 2000)
	var completed atomic.Int64
	var wg sync.WaitGroup
	for _, f := range []int32{flagAnswered | flagAccepted, flagCommitted} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range txs {
				if txs[i].mark(f) {
					completed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := completed.Load(); n != int64(len(txs)) {
		t.Fatalf("%d completions for %d transfers", n, len(txs))
	}
	var refused loadTx
	if refused.mark(flagAnswered) || refused.mark(flagCommitted) || refused.mark(flagCommitted) {
		t.Fatal("a refused transfer seen committed completed as accepted")
	}
}

func TestRunLoadWithoutFunders(t *testing.T) {
	url := startNode(t, 100*time.Millisecond, nil)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Funders = nil // nobody pays: the accounts are empty
	cfg.Accounts, cfg.Txs = 5, 10
	if _, err := RunLoad(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "need funds") {
		t.Fatalf("got %v", err)
	}
}

func TestRunReads(t *testing.T) {
	url := startNode(t, 200*time.Millisecond, nil)
	began := time.Now()
	rep, err := RunReads(context.Background(), ReadConfig{Endpoint: url, Method: "eth_blockNumber", Rate: 400, Duration: time.Second, Conns: 4})
	elapsed := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	// Call k is scheduled at k/400 s; those before 1 s are 0..399, each
	// made once, and the last cannot start before 399/400 s.
	if rep.Calls != 400 || rep.Errors != 0 || rep.FirstErr != "" {
		t.Fatalf("want 400 calls without errors; report %+v", rep)
	}
	if rep.Seconds < 399.0/400 || rep.Seconds > elapsed.Seconds() || rep.PerSec != float64(rep.Calls)/rep.Seconds || rep.Target != 400 {
		t.Fatalf("%d calls in %g s (%g/s) at 400/s, in a call of %s", rep.Calls, rep.Seconds, rep.PerSec, elapsed)
	}
	if l := rep.Latency; !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max && l.Max <= float64(elapsed.Milliseconds())+1) {
		t.Fatalf("latencies %+v: want 0 < p50 <= p95 <= p99 <= max <= the call", l)
	}
	if _, err := RunReads(context.Background(), ReadConfig{Endpoint: url, Method: "eth_nothing", Rate: 1, Duration: time.Second, Conns: 1}); err == nil {
		t.Fatal("an unknown method passed the trial call")
	}
}

func TestConfigValidate(t *testing.T) {
	err := LoadConfig{Endpoints: []string{"localhost:8545"}}.Validate()
	for _, want := range []string{"http://", "accounts 0", "number of transfers", "batch 0", "conns 0", "settle"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

// TestRunLoadBatchedResends sends batches faster than a node's door takes
// them: what it refuses for want of room is sent again, in nonce order, so
// every transfer commits and no account is left behind a gap.
func TestRunLoadBatchedResends(t *testing.T) {
	// Blocks of at most 40: the door takes at most 400 a second, well below
	// what the tool sends even under the race detector.
	n := startWithGenesis(t, 100*time.Millisecond, func(c *node.Config) { c.Mempool.AdmitBlocks, c.Mempool.MinBlockTxs = 1, 10 },
		func(g *chain.Genesis) { g.Limits.BlockMaxTxs = 40 })
	url := "http://" + n.RPCAddr()
	c := rpc.NewClient(url, 2)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 7, 700, 0, 50, 4
	cfg.Settle = 20 * time.Second
	r := runLoad(t, c, cfg)
	rep := r.rep
	if rep.Retries == 0 || rep.Refused != rep.Retries {
		t.Fatalf("%d refused, %d sent again: want the door to have refused some, each sent again", rep.Refused, rep.Retries)
	}
	for k := range rep.Rejected {
		if !strings.HasPrefix(k, "-32005 txpool is full") {
			t.Errorf("refusal %q is not for want of room", k)
		}
	}
	if rep.Transfers != 700 || rep.Accepted != 700 || rep.Committed != 700 || rep.Lost != 0 {
		t.Fatalf("offered %d, accepted %d, committed %d, lost %d; want all 700 committed", rep.Transfers, rep.Accepted, rep.Committed, rep.Lost)
	}
	checkAgainstChain(t, c, r)
}
