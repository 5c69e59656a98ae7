package explorer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bizra/node0/node"
	"github.com/bizra/node0/rpc"
)

func openPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// checkIndexAgainstNode compares every indexed block with the node's and
// checks the counters the indexer keeps.
func checkIndexAgainstNode(t *testing.T, pool *pgxpool.Pool, src *source, upTo int64) {
	t.Helper()
	ctx := context.Background()
	// One statement, one snapshot: the indexer goes on writing meanwhile.
	var blocks, txs, sumTxCount, total, height, proposed int64
	var rep float64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM blocks), (SELECT count(*) FROM transactions),
		(SELECT COALESCE(sum(tx_count), 0) FROM blocks), total_transactions, height,
		(SELECT blocks_proposed FROM validators), (SELECT reputation FROM validators) FROM indexer_state`).
		Scan(&blocks, &txs, &sumTxCount, &total, &height, &proposed, &rep); err != nil {
		t.Fatal(err)
	}
	if height < upTo || blocks != height+1 || txs != sumTxCount || total != txs {
		t.Fatalf("index: height %d (want ≥ %d), %d blocks, %d transactions, tx_count sum %d, total %d", height, upTo, blocks, txs, sumTxCount, total)
	}
	for from := int64(0); from <= height; from += 50 {
		to := min(from+49, height)
		bs, err := src.fetch(ctx, uint64(from), uint64(to))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			var hash []byte
			var n int
			if err := pool.QueryRow(ctx, `SELECT hash, tx_count FROM blocks WHERE height = $1`, int64(b.Height)).Scan(&hash, &n); err != nil {
				t.Fatalf("block %d: %v", b.Height, err)
			}
			if string(hash) != string(b.Hash.Bytes()) || n != len(b.Txs) {
				t.Fatalf("block %d: indexed %x with %d txs, node has %s with %d", b.Height, hash, n, b.Hash, len(b.Txs))
			}
		}
	}
	// Every block but genesis was proposed by the one validator.
	if proposed != height || rep != 100 {
		t.Fatalf("validator: %d blocks proposed (want %d), reputation %v (want 100)", proposed, height, rep)
	}
}

func TestIndexerFollowsNodeAndResumes(t *testing.T) {
	s := newTestStack(t)
	var txs []string
	for i := 0; i < 5; i++ {
		h, _, _, _ := s.Transfer(t)
		txs = append(txs, h)
	}
	pg := s.explorer.cfg.Postgres
	pool := openPool(t, pg)
	src := newSource(s.explorer.cfg)
	head := s.explorer.Indexer().IndexedHeight()
	checkIndexAgainstNode(t, pool, src, head)

	// A second explorer on the same database serves the API but does not
	// index while the first one does.
	cfg := s.explorer.cfg
	e2 := startExplorer(t, cfg)
	var st StatsJSON
	waitFor(t, 10*time.Second, "the second explorer's API", func() bool {
		return getJSON(t, e2.url()+"/api/stats", &st) == http.StatusOK && st.Height >= head
	})
	time.Sleep(300 * time.Millisecond)
	if h := e2.Indexer().IndexedHeight(); h != -1 {
		t.Fatalf("the second explorer indexed (height %d) while the first held the lock", h)
	}
	// Stop the first, let the node go on: the second takes over, resumes at
	// the stored height and writes every block exactly once.
	s.explorer.stop(t)
	time.Sleep(600 * time.Millisecond) // a few blocks pass meanwhile
	select {
	case <-e2.Indexer().CaughtUp():
	case <-time.After(30 * time.Second):
		t.Fatal("restarted explorer did not catch up")
	}
	nodeHead, err := src.head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int64(nodeHead) <= head {
		t.Fatalf("node did not advance while the explorer was down: %d", nodeHead)
	}
	waitFor(t, 10*time.Second, "the restarted explorer to pass the node's head", func() bool {
		return e2.Indexer().IndexedHeight() >= int64(nodeHead)
	})
	checkIndexAgainstNode(t, pool, src, int64(nodeHead))
	for _, h := range txs {
		var got TxJSON
		if code := getJSON(t, e2.url()+"/api/tx/"+h, &got); code != http.StatusOK || got.Status != "success" || got.Fee == "0" {
			t.Fatalf("tx %s after restart: %d %+v", h, code, got)
		}
	}
}

func TestIndexerNodeDownPauses(t *testing.T) {
	n := startTestNode(t, 100*time.Millisecond)
	pg, _ := testDB(t)
	e := startExplorer(t, testConfig(n.url(), pg, "", ""))
	waitFor(t, 20*time.Second, "indexing to start", func() bool { return e.Indexer().IndexedHeight() > 2 })
	n.stop()
	waitFor(t, 10*time.Second, "the node to be reported down", func() bool { return gaugeValue(e.m.NodeUp) == 0 })
	paused := e.Indexer().IndexedHeight()
	n.start()
	waitFor(t, 20*time.Second, "indexing to resume after the node restarts", func() bool {
		return e.Indexer().IndexedHeight() > paused+3
	})
	checkIndexAgainstNode(t, openPool(t, pg), newSource(e.cfg), paused+3)

	// The node goes away and another chain answers on its address: the
	// explorer stops rather than mix two chains.
	n.stop()
	waitFor(t, 10*time.Second, "the node to be reported down", func() bool { return gaugeValue(e.m.NodeUp) == 0 })
	other := &testNode{t: t, home: filepath.Join(t.TempDir(), "other"), addr: n.addr}
	cfg := node.DefaultConfig()
	cfg.Metrics.Enabled, cfg.P2P.Enabled, cfg.RPC.ListenAddr = false, false, n.addr
	if _, err := node.Init(node.InitOptions{Home: other.home, BlockTime: 100 * time.Millisecond, DevAccounts: 10, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	other.start()
	t.Cleanup(other.stop)
	select {
	case err := <-e.done:
		e.cancel = nil
		if !errors.Is(err, ErrOtherChain) {
			t.Fatalf("explorer ended with %v, want ErrOtherChain", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the explorer went on against another chain")
	}
}

func TestIndexerReplayWritesNothingTwice(t *testing.T) {
	n := startTestNode(t, 50*time.Millisecond)
	pg, _ := testDB(t)
	cfg := testConfig(n.url(), pg, "", "")
	e, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	ix := e.ix
	if err := ix.start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ten blocks", func() bool { h, _ := ix.src.head(ctx); return h >= 10 })
	bs, err := ix.src.fetch(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.write(ctx, bs[:6]); err != nil {
		t.Fatal(err)
	}
	// The same range again, and an overlapping one: only heights 6..10 are new.
	if err := ix.write(ctx, bs[:6]); err != nil {
		t.Fatal(err)
	}
	if err := ix.write(ctx, bs[3:]); err != nil {
		t.Fatal(err)
	}
	pool := openPool(t, pg)
	var blocks, proposed int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM blocks), (SELECT blocks_proposed FROM validators)`).Scan(&blocks, &proposed); err != nil {
		t.Fatal(err)
	}
	if blocks != 11 || proposed != 10 {
		t.Fatalf("after replays: %d blocks (want 11), %d proposed (want 10)", blocks, proposed)
	}

	// A block whose parent is not the indexed block is refused, and nothing
	// of its batch is written.
	waitFor(t, 10*time.Second, "twelve blocks", func() bool { h, _ := ix.src.head(ctx); return h >= 12 })
	more, err := ix.src.fetch(ctx, 11, 12)
	if err != nil {
		t.Fatal(err)
	}
	forged := *more[0]
	forged.Parent[0] ^= 1
	if err := ix.write(ctx, []*Block{&forged, more[1]}); !errors.Is(err, ErrForkDetected) {
		t.Fatalf("forged parent: %v, want ErrForkDetected", err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM blocks`).Scan(&blocks); err != nil || blocks != 11 {
		t.Fatalf("after a refused batch: %d blocks, %v", blocks, err)
	}
	// A gap is refused too.
	if err := ix.write(ctx, more[1:]); err == nil {
		t.Fatal("a batch starting past the next height was written")
	}
	// An indexer whose memory is behind the stored position (a commit whose
	// answer was lost, or another writer) writes nothing and says so.
	ix.height = 7
	if err := ix.write(ctx, more); !errors.Is(err, errMoved) {
		t.Fatalf("write with a stale position: %v, want errMoved", err)
	}
}

func TestIndexerRefusesAnotherChain(t *testing.T) {
	a := startTestNode(t, 100*time.Millisecond)
	pg, _ := testDB(t)
	e := startExplorer(t, testConfig(a.url(), pg, "", ""))
	waitFor(t, 20*time.Second, "indexing", func() bool { return e.Indexer().IndexedHeight() > 0 })
	e.stop(t)

	b := startTestNode(t, 100*time.Millisecond) // another genesis (its own keys)
	e2, err := Open(context.Background(), testConfig(b.url(), pg, "", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = e2.Run(context.Background())
	if !errors.Is(err, ErrOtherChain) {
		t.Fatalf("explorer on another chain's database: %v, want ErrOtherChain", err)
	}
}

// TestIndexerBothReadPaths indexes one node twice, once with
// bizra_getRawBlocks and once with the Ethereum methods, and checks that
// both write the same rows.
func TestIndexerBothReadPaths(t *testing.T) {
	n := startTestNode(t, 100*time.Millisecond)
	client := rpc.NewClient(n.url(), 2)
	for i := 0; i < 30; i++ {
		sendTransfer(t, client, i)
	}
	var head hexutil.Uint64
	waitFor(t, 20*time.Second, "the transfers to commit", func() bool {
		var pending struct {
			Txs int `json:"txs"`
		}
		client.Call(context.Background(), &pending, "bizra_mempool")
		return pending.Txs == 0 && client.Call(context.Background(), &head, "eth_blockNumber") == nil
	})
	dump := func(raw bool) string {
		pg, _ := testDB(t)
		cfg := testConfig(n.url(), pg, "", "")
		cfg.RawBlocks = raw
		cfg.FetchBlocks = 3
		e := startExplorer(t, cfg)
		waitFor(t, 20*time.Second, "indexing", func() bool { return e.Indexer().IndexedHeight() >= int64(head) })
		e.stop(t)
		if e.ix.src.raw.Load() != raw {
			t.Fatalf("read path with raw_blocks = %v ended as raw = %v", raw, e.ix.src.raw.Load())
		}
		var out string
		err := openPool(t, pg).QueryRow(context.Background(), `SELECT string_agg(concat_ws('|', encode(hash, 'hex'), block_height,
			encode(block_hash, 'hex'), idx, encode(sender, 'hex'), encode(receiver, 'hex'), amount, nonce, fee, gas_price, status), E'\n'
			ORDER BY block_height, idx) FROM transactions WHERE block_height <= $1`, int64(head)).Scan(&out)
		if err != nil {
			t.Fatal(err)
		}
		var blocks string
		err = openPool(t, pg).QueryRow(context.Background(), `SELECT string_agg(concat_ws('|', height, encode(hash, 'hex'),
			encode(parent_hash, 'hex'), proposer_id, "timestamp", round, tx_count, gas_used, signers, signed_stake, total_stake), E'\n'
			ORDER BY height) FROM blocks WHERE height <= $1`, int64(head)).Scan(&blocks)
		if err != nil {
			t.Fatal(err)
		}
		return out + "\n" + blocks
	}
	raw, eth := dump(true), dump(false)
	if raw != eth {
		t.Fatalf("the two read paths wrote different rows:\nraw:\n%s\nethereum:\n%s", raw, eth)
	}
	if c := strings.Count(raw, "|1234567890123|"); c != 30 {
		t.Fatalf("%d of 30 transfers indexed:\n%s", c, raw)
	}
}

// TestFetchSplitsAnswersTooLarge runs a node that refuses answers over
// 64 kB: the Ethereum read path splits its batches until they fit, and a
// rate limit would not be taken for a size refusal.
func TestFetchSplitsAnswersTooLarge(t *testing.T) {
	n := &testNode{t: t, home: filepath.Join(t.TempDir(), "home"), addr: freeAddr(t)}
	cfg := node.DefaultConfig()
	cfg.Metrics.Enabled, cfg.P2P.Enabled, cfg.RPC.ListenAddr = false, false, n.addr
	cfg.RPC.MaxResponseBytes = 1 << 18
	if _, err := node.Init(node.InitOptions{Home: n.home, BlockTime: 100 * time.Millisecond, DevAccounts: 10, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	n.start()
	t.Cleanup(n.stop)
	client := rpc.NewClient(n.url(), 2)
	for i := 0; i < 200; i++ {
		sendTransfer(t, client, i)
	}
	var head hexutil.Uint64
	waitFor(t, 20*time.Second, "the transfers to commit", func() bool {
		var pending struct {
			Txs int `json:"txs"`
		}
		client.Call(context.Background(), &pending, "bizra_mempool")
		return pending.Txs == 0 && client.Call(context.Background(), &head, "eth_blockNumber") == nil
	})
	src := newSource(testConfig(n.url(), "", "", ""))
	src.raw.Store(false)
	whole := []rpc.BatchElem{}
	for h := uint64(0); h <= uint64(head); h++ {
		whole = append(whole,
			rpc.BatchElem{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(h), true}, Result: new(json.RawMessage)},
			rpc.BatchElem{Method: "eth_getBlockReceipts", Params: []any{hexutil.Uint64(h)}, Result: new(json.RawMessage)})
	}
	if err := client.BatchCall(context.Background(), whole); err == nil && whole[len(whole)-1].Err == nil {
		t.Fatalf("the node answered %d blocks and receipts in one batch: the limit is not exercised", head+1)
	}
	if !tooLarge(whole[len(whole)-1].Err) {
		t.Fatalf("refusal %v is not recognised as an answer too large", whole[len(whole)-1].Err)
	}
	bs, err := src.fetch(context.Background(), 0, uint64(head))
	if err != nil {
		t.Fatal(err)
	}
	txs := 0
	for i, b := range bs {
		if b.Height != uint64(i) {
			t.Fatalf("block %d at position %d", b.Height, i)
		}
		txs += len(b.Txs)
	}
	if len(bs) != int(head)+1 || txs != 200 {
		t.Fatalf("%d blocks with %d transfers, want %d blocks with 200", len(bs), txs, head+1)
	}
	if tooLarge(&rpc.Error{Code: rpc.CodeLimitExceeded, Message: "rate limit of 10 calls per second exceeded"}) {
		t.Fatal("a rate limit taken for an answer too large")
	}
}
