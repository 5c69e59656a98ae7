package testnet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
	"github.com/bizra/node0/rpc"
)

// startSmallBlocks starts a real node (Pebble, mempool, JSON-RPC; one
// validator) whose genesis allows at most maxBlock transfers a block, with
// the door's bound as admitBlocks sets it, and returns its URL.
func startSmallBlocks(t *testing.T, blockTime time.Duration, maxBlock int, admitBlocks float64) string {
	t.Helper()
	n := startWithGenesis(t, blockTime, func(c *node.Config) {
		c.Mempool.AdmitBlocks = admitBlocks
		c.Mempool.MinBlockTxs = maxBlock / 4
	}, func(g *chain.Genesis) { g.Limits.BlockMaxTxs = maxBlock })
	return "http://" + n.RPCAddr()
}

// TestBackpressureKeepsInclusion offers four times what the chain takes
// (blocks of at most 100 transfers every 250 ms: 400 tx/s) one transfer per
// request, and checks the node refuses the excess cleanly at the door,
// includes every transfer it accepted within two block intervals, and
// keeps its block interval. Without the door (admit_blocks 0) the pool
// takes everything, blocks stay at the limit, and inclusion stretches
// with the backlog: nothing is refused and the inclusion p95 was 17.4 s
// there when this test was written (0.58 s with the door).
func TestBackpressureKeepsInclusion(t *testing.T) {
	const blockTime, maxBlock = 250 * time.Millisecond, 100
	url := startSmallBlocks(t, blockTime, maxBlock, 1)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Batch, cfg.Conns, cfg.Accounts = 1, 16, 400
	cfg.Rate, cfg.Duration, cfg.Warmup = 1600, 6*time.Second, 2*time.Second
	cfg.Seed, cfg.Settle, cfg.Record = "backpressure", 20*time.Second, true
	rep, err := RunLoad(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := rep.Window
	t.Logf("accepted %d refused %d rejected %v lost %d; window: %.0f req/s, %.0f committed tx/s, interval %.0f ms (p95 %.0f), %.0f per block, inclusion p50 %.0f p95 %.0f max %.0f ms",
		rep.Accepted, rep.Refused, rep.Rejected, rep.Lost, w.RequestsPS, w.CommittedPS, w.BlockIntervalMs, w.BlockIntervalP95Ms, w.TxsPerBlock, w.Inclusion.P50, w.Inclusion.P95, w.Inclusion.Max)

	// The excess was refused, and only with the documented error.
	if rep.Refused == 0 {
		t.Fatal("nothing refused at four times the capacity")
	}
	for k := range rep.Rejected {
		if !strings.HasPrefix(k, "-32005 txpool is full [capacity") && !strings.HasPrefix(k, "-32005 txpool is full [client_share") {
			t.Errorf("refusal %q is not the door's", k)
		}
	}
	// What was accepted was included, within two block intervals of being
	// sent (plus the tool's 10 ms polling and some slack for a busy machine).
	if rep.Lost != 0 || rep.Committed != rep.Accepted || rep.TransportErrors != 0 {
		t.Fatalf("accepted %d, committed %d, lost %d, transport errors %d", rep.Accepted, rep.Committed, rep.Lost, rep.TransportErrors)
	}
	if limit := float64(2*blockTime/time.Millisecond) + 200; w.Inclusion.P95 > limit {
		t.Errorf("inclusion p95 %.0f ms, want at most two intervals (%.0f ms)", w.Inclusion.P95, limit)
	}
	// The block interval held, and blocks stayed within the genesis limit.
	if w.Blocks < 8 || w.BlockIntervalMs > 1.2*float64(blockTime/time.Millisecond) {
		t.Errorf("%d blocks in the window, every %.0f ms: want the %s block time within 20 %%", w.Blocks, w.BlockIntervalMs, blockTime)
	}
	if w.CommittedPS < 0.5*maxBlock/blockTime.Seconds() {
		t.Errorf("committed %.0f tx/s, want at least half the %0.f the blocks take", w.CommittedPS, maxBlock/blockTime.Seconds())
	}
	c := rpc.NewClient(url, 1)
	for _, h := range rep.AcceptedTxs[:min(len(rep.AcceptedTxs), 50)] {
		var r struct {
			Status hexutil.Uint64 `json:"status"`
		}
		if err := c.Call(context.Background(), &r, "eth_getTransactionReceipt", h); err != nil || r.Status != 1 {
			t.Fatalf("receipt of accepted %s: %v %+v", h, err, r)
		}
	}
	var blk struct {
		Transactions []chain.Hash `json:"transactions"`
	}
	for h := rep.FirstBlock; h <= rep.LastBlock; h++ {
		if err := c.Call(context.Background(), &blk, "eth_getBlockByNumber", hexutil.Uint64(h), false); err != nil {
			t.Fatal(err)
		}
		if len(blk.Transactions) > maxBlock {
			t.Fatalf("block %d holds %d transfers, above the limit %d", h, len(blk.Transactions), maxBlock)
		}
	}
}
