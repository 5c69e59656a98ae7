package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/rpc"
)

// testLogger sends logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock moves only when told.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

type recService struct {
	name    string
	log     *[]string
	failOn  bool
	stopErr error
}

func (s *recService) Name() string { return s.name }
func (s *recService) Start(context.Context) error {
	if s.failOn {
		return errors.New("boom")
	}
	*s.log = append(*s.log, "start "+s.name)
	return nil
}
func (s *recService) Stop() error { *s.log = append(*s.log, "stop "+s.name); return s.stopErr }

func TestLifecycleOrder(t *testing.T) {
	t.Run("start in order, stop in reverse", func(t *testing.T) {
		var log []string
		l := lifecycle{log: slog.New(slog.DiscardHandler), services: []Service{
			&recService{name: "a", log: &log}, &recService{name: "b", log: &log}, &recService{name: "c", log: &log},
		}}
		if err := l.start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l.stop(); err != nil {
			t.Fatal(err)
		}
		want := "start a,start b,start c,stop c,stop b,stop a"
		if got := strings.Join(log, ","); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("failure stops what started", func(t *testing.T) {
		var log []string
		l := lifecycle{log: slog.New(slog.DiscardHandler), services: []Service{
			&recService{name: "a", log: &log}, &recService{name: "b", log: &log}, &recService{name: "c", log: &log, failOn: true}, &recService{name: "d", log: &log},
		}}
		err := l.start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "start c") {
			t.Fatalf("got %v", err)
		}
		want := "start a,start b,stop b,stop a"
		if got := strings.Join(log, ","); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("stop errors are joined, all services stopped", func(t *testing.T) {
		var log []string
		l := lifecycle{log: slog.New(slog.DiscardHandler), services: []Service{
			&recService{name: "a", log: &log, stopErr: errors.New("x")}, &recService{name: "b", log: &log, stopErr: errors.New("y")},
		}}
		if err := l.start(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := l.stop()
		if err == nil || !strings.Contains(err.Error(), "stop a") || !strings.Contains(err.Error(), "stop b") {
			t.Fatalf("got %v", err)
		}
	})
}

// newTestHome initialises a devnet-like home and returns its config.
func newTestHome(t *testing.T, blockTime time.Duration, genesisTime time.Time) Config {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	cfg := DefaultConfig()
	cfg.Metrics.ListenAddr = "127.0.0.1:0"
	cfg.RPC.ListenAddr = "127.0.0.1:0"
	cfg.P2P.Enabled = false
	if _, err := Init(InitOptions{Home: home, BlockTime: blockTime, DevAccounts: 10, Config: &cfg, GenesisTime: genesisTime}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEngineOnFakeClock(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg := newTestHome(t, 200*time.Millisecond, t0)
	cfg.Metrics.Enabled = false
	clock := &fakeClock{now: t0}
	n, err := New(cfg, Options{Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 5; h++ {
		waitFor(t, 5*time.Second, "the engine to wait on the clock", func() bool { return clock.pending() > 0 })
		clock.Advance(200 * time.Millisecond)
		waitFor(t, 5*time.Second, "the next block", func() bool { hd, _ := n.Chain().Head(); return hd.Height == h })
		hd, _ := n.Chain().Head()
		if want := uint64(t0.Add(time.Duration(h) * 200 * time.Millisecond).UnixMilli()); hd.Timestamp != want {
			t.Fatalf("block %d timestamp %d, want %d", h, hd.Timestamp, want)
		}
		if hd.Proposer != n.Validator().Address || hd.Round != 0 {
			t.Fatalf("block %d proposer %s round %d", h, hd.Proposer, hd.Round)
		}
		blk, err := n.Chain().Store().Block(h)
		if err != nil {
			t.Fatal(err)
		}
		qc, err := consensus.DecodeQC(blk.Cert)
		if err != nil || qc.Type != consensus.Precommit || qc.Height != h || qc.BlockID != blk.Hash() || qc.Signers.Count() != 1 {
			t.Fatalf("block %d certificate %+v, %v", h, qc, err)
		}
	}
	// The engine waits for the next slot and produces nothing until the
	// clock reaches it.
	waitFor(t, 5*time.Second, "the engine to wait again", func() bool { return clock.pending() > 0 })
	clock.Advance(199 * time.Millisecond)
	time.Sleep(20 * time.Millisecond) // give a wrongly woken engine the chance to commit
	if hd, _ := n.Chain().Head(); hd.Height != 5 {
		t.Fatalf("height %d before the slot", hd.Height)
	}
	clock.Advance(time.Millisecond)
	waitFor(t, 5*time.Second, "block 6 at its slot", func() bool { hd, _ := n.Chain().Head(); return hd.Height == 6 })

	// A proposal less than one interval late keeps its slot's time, so
	// that the chain keeps its rate; one later than that takes its own.
	slot := func(h uint64) uint64 { return uint64(t0.Add(time.Duration(h) * 200 * time.Millisecond).UnixMilli()) }
	for _, c := range []struct {
		late time.Duration
		want func(now time.Time) uint64
	}{
		{150 * time.Millisecond, func(time.Time) uint64 { return slot(7) }},
		{0, func(time.Time) uint64 { return slot(8) }},
		{450 * time.Millisecond, func(now time.Time) uint64 { return uint64(now.UnixMilli()) }},
	} {
		hd, _ := n.Chain().Head()
		waitFor(t, 5*time.Second, "the engine to wait again", func() bool { return clock.pending() > 0 })
		clock.Advance(time.UnixMilli(int64(hd.Timestamp)).Add(200*time.Millisecond + c.late).Sub(clock.Now()))
		now := clock.Now()
		waitFor(t, 5*time.Second, "the next block", func() bool { h, _ := n.Chain().Head(); return h.Height == hd.Height+1 })
		got, _ := n.Chain().Head()
		if want := c.want(now); got.Timestamp != want {
			t.Fatalf("block %d proposed %s late: timestamp %d, want %d", got.Height, c.late, got.Timestamp, want)
		}
	}
}

func TestRunStopsWhenBlockProductionFails(t *testing.T) {
	cfg := newTestHome(t, 20*time.Millisecond, time.Time{})
	cfg.Metrics.Enabled = false
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	waitFor(t, 5*time.Second, "a block", func() bool { hd, _ := n.Chain().Head(); return hd.Height > 0 })
	_ = n.store.Close() // the disk goes away under the running node
	select {
	case err := <-done:
		if !errors.Is(err, chain.ErrClosed) || !strings.Contains(err.Error(), "consensus engine failed") {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after block production failed")
	}
}

func TestNodeRunsRestartsAndStaysConsistent(t *testing.T) {
	cfg := newTestHome(t, 50*time.Millisecond, time.Time{})
	cfg.Dev.Traffic = 400
	run := func(minHeight uint64) uint64 {
		n, err := New(cfg, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		waitFor(t, 20*time.Second, "blocks with transactions", func() bool {
			hd, _ := n.Chain().Head()
			return hd.Height >= minHeight && hd.GasUsed > 0
		})
		resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{"bizra_chain_height ", "bizra_chain_block_interval_seconds_bucket", "bizra_chain_block_txs_bucket",
			"bizra_chain_state_apply_seconds_bucket", "bizra_chain_store_commit_seconds_bucket", "bizra_node_info{", "process_resident_memory_bytes"} {
			if !strings.Contains(string(body), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		hd, _ := n.Chain().Head()
		return hd.Height
	}
	h1 := run(8)
	store, err := chain.OpenStore(cfg.Path(cfg.Chain.DataDir), chain.DefaultStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	rep, err := chain.Verify(store, g)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Height != h1 || rep.Txs == 0 {
		t.Fatalf("verified %+v, node stopped at %d", rep, h1)
	}
	// A restart resumes from the stored head, and the dev traffic resumes
	// from the committed nonces.
	h2 := run(h1 + 8)
	if h2 <= h1 {
		t.Fatalf("height %d after restart, was %d", h2, h1)
	}
}

func TestNodeRefusesForeignValidatorKey(t *testing.T) {
	a := newTestHome(t, time.Second, time.Time{})
	b := newTestHome(t, time.Second, time.Time{})
	a.Validator.KeyFile = b.Path(b.Validator.KeyFile)
	if _, err := New(a, Options{Logger: testLogger(t)}); !errors.Is(err, ErrNotValidator) {
		t.Fatalf("got %v", err)
	}
}

func TestSubmittedTransfersAreCommitted(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg := newTestHome(t, 100*time.Millisecond, t0)
	cfg.Metrics.Enabled = false
	clock := &fakeClock{now: t0}
	n, err := New(cfg, Options{Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dev := DevAccounts(2)
	var hashes []chain.Hash
	for nonce := range uint64(3) {
		tx := signedDevTransfer(t, n.Chain(), dev[0], dev[1].Address, nonce)
		if err := n.Mempool().AddTx(tx); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, tx.Hash)
	}
	gap := signedDevTransfer(t, n.Chain(), dev[1], dev[0].Address, 5)
	if err := n.Mempool().AddTx(gap); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the engine to wait", func() bool { return clock.pending() > 0 })
	clock.Advance(100 * time.Millisecond)
	waitFor(t, 5*time.Second, "block 1", func() bool { hd, _ := n.Chain().Head(); return hd.Height == 1 })
	for i, h := range hashes {
		hgt, idx, err := n.Chain().Store().TxLocation(h)
		if err != nil || hgt != 1 || idx != uint32(i) {
			t.Fatalf("tx %d: height %d index %d err %v", i, hgt, idx, err)
		}
	}
	// The included ones leave the pool (told right after the chain's head
	// moves); the one behind a nonce gap waits.
	waitFor(t, 5*time.Second, "the pool to drop the included transfers", func() bool { return n.Mempool().Len() <= 1 })
	if n.Mempool().Len() != 1 {
		t.Fatalf("pool holds %d", n.Mempool().Len())
	}
	if _, ok := n.Mempool().Get(gap.Hash); !ok {
		t.Fatal("queued transaction dropped")
	}
}

// signedDevTransfer signs a transfer from a dev account.
func signedDevTransfer(t *testing.T, c *chain.Chain, from DevAccount, to chain.Address, nonce uint64) *chain.Tx {
	t.Helper()
	r := c.Rules()
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(r.ChainID), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
		Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
	})
	signed, err := types.SignTx(tx, r.Signer(), from.Key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNodeStopStartStop stops a node and starts it again in the same
// process: every service (metrics, p2p, consensus, JSON-RPC) comes back
// and the chain goes on, and the node closes cleanly after.
func TestNodeStopStartStop(t *testing.T) {
	cfg := newTestHome(t, 100*time.Millisecond, time.Time{})
	cfg.P2P.Enabled = true
	cfg.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.DHT = false
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	serving := func(what string) {
		t.Helper()
		if len(n.P2PAddrs()) == 0 {
			t.Fatalf("%s: no p2p address", what)
		}
		c := rpc.NewClient("http://"+n.RPCAddr(), 1)
		var h hexutil.Uint64
		if err := c.Call(context.Background(), &h, "eth_blockNumber"); err != nil {
			t.Fatalf("%s: eth_blockNumber: %v", what, err)
		}
		resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatalf("%s: metrics: %v", what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "bizra_p2p_peers") || !strings.Contains(string(body), "bizra_consensus_height") {
			t.Fatalf("%s: metrics lack the p2p or consensus gauges", what)
		}
	}
	for round := range 2 {
		if err := n.Start(context.Background()); err != nil {
			t.Fatalf("start %d: %v", round, err)
		}
		from := heightOf(n)
		waitFor(t, 30*time.Second, "two more blocks", func() bool { return heightOf(n) >= from+2 })
		serving(fmt.Sprintf("run %d", round))
		if err := n.Stop(); err != nil {
			t.Fatalf("stop %d: %v", round, err)
		}
		if n.P2PAddrs() != nil {
			t.Fatalf("stop %d: the p2p host still listens", round)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Start after Close: %v", err)
	}
}
