package node

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

// devTransfer signs a transfer of value from a dev account.
func devTransfer(t testing.TB, r *chain.Rules, from DevAccount, to chain.Address, nonce uint64, value *big.Int) []byte {
	t.Helper()
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(r.ChainID), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
		Gas: chain.TransferGas, To: &to, Value: value,
	})
	signed, err := types.SignTx(tx, r.Signer(), from.Key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newTestNode(t *testing.T, cfg Config, clock Clock) *Node {
	t.Helper()
	n, err := New(cfg, Options{Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// commitNext lets a node on a fake clock commit its next block.
func commitNext(t *testing.T, n *Node, clock *fakeClock, bt time.Duration) {
	t.Helper()
	hd, _ := n.Chain().Head()
	waitFor(t, 5*time.Second, "the engine to wait on the clock", func() bool { return clock.pending() > 0 })
	clock.Advance(bt)
	waitFor(t, 5*time.Second, "the next block", func() bool { h, _ := n.Chain().Head(); return h.Height == hd.Height+1 })
}

// TestJournalReplaysIntoNode: transactions a client sent to a node that
// went down before a block included them are in its pool after a restart,
// and the next block includes them.
func TestJournalReplaysIntoNode(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg := newTestHome(t, 100*time.Millisecond, t0)
	cfg.Metrics.Enabled = false
	n := newTestNode(t, cfg, &fakeClock{now: t0})
	dev := DevAccounts(2)
	var hashes []chain.Hash
	for nonce := range uint64(3) {
		tx, err := rpcPool{n.pool, n.net, n.journal}.Add(devTransfer(t, n.Chain().Rules(), dev[0], dev[1].Address, nonce, big.NewInt(1)))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, tx.Hash)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	clock := &fakeClock{now: t0}
	n = newTestNode(t, cfg, clock)
	defer n.Close()
	if n.Mempool().Len() != 3 || len(n.replayed) != 3 {
		t.Fatalf("after restart the pool holds %d, replayed %d; want 3", n.Mempool().Len(), len(n.replayed))
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	commitNext(t, n, clock, 100*time.Millisecond)
	for _, h := range hashes {
		if hgt, _, err := n.Chain().Store().TxLocation(h); err != nil || hgt != 1 {
			t.Fatalf("tx %s: height %d, %v", h, hgt, err)
		}
	}
}

// TestJournalOfInvalidTransactions: a journal full of transactions that
// became invalid while the node was down (their nonces used by other
// transactions, their sender's funds spent) is dropped at start, counted
// by reason, and the node starts and produces blocks.
func TestJournalOfInvalidTransactions(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg := newTestHome(t, 100*time.Millisecond, t0)
	cfg.Metrics.Enabled = false
	dev := DevAccounts(3)
	clock := &fakeClock{now: t0}
	n := newTestNode(t, cfg, clock)
	rules := n.Chain().Rules()
	one := big.NewInt(1)
	sent := 0
	for _, from := range dev[:2] {
		for nonce := range uint64(20) {
			if _, err := (rpcPool{n.pool, n.net, n.journal}).Add(devTransfer(t, rules, from, dev[2].Address, nonce, one)); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	journal := cfg.Path(cfg.Mempool.JournalFile)
	saved, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}

	// Down, as far as the journal knows: the node runs without it, and a
	// block includes other transactions of dev[0] with all 20 nonces and one
	// of dev[1] that spends its whole balance.
	off := cfg
	off.Mempool.Journal = false
	n = newTestNode(t, off, clock)
	for nonce := range uint64(20) {
		if _, err := n.Mempool().Add(devTransfer(t, rules, dev[0], dev[1].Address, nonce, big.NewInt(2))); err != nil {
			t.Fatal(err)
		}
	}
	all := new(uint256.Int).Sub(DevBalance, uint256.NewInt(chain.TransferGas*3e9))
	if _, err := n.Mempool().Add(devTransfer(t, rules, dev[1], dev[0].Address, 0, all.ToBig())); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	commitNext(t, n, clock, 100*time.Millisecond)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if cur, _ := os.ReadFile(journal); string(cur) != string(saved) {
		t.Fatal("the journal changed while it was off")
	}

	n = newTestNode(t, cfg, clock)
	defer n.Close()
	if n.Mempool().Len() != 0 || len(n.replayed) != 0 {
		t.Fatalf("pool holds %d, replayed %d; want none", n.Mempool().Len(), len(n.replayed))
	}
	nonceLow := metricValue(t, n, "bizra_mempool_journal_dropped_total", "nonce_too_low")
	funds := metricValue(t, n, "bizra_mempool_journal_dropped_total", "insufficient_funds")
	if nonceLow != 21 || funds != 19 {
		t.Fatalf("dropped: %v nonce_too_low, %v insufficient_funds; want 21 and 19 of %d", nonceLow, funds, sent)
	}
	if st := n.journal.Stats(); st.Records != 0 {
		t.Fatalf("journal holds %d records after dropping them all", st.Records)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	commitNext(t, n, clock, 100*time.Millisecond)
}

// metricValue reads a counter from the node's registry: the one with
// label reason=reason, or the unlabelled one if reason is "".
func metricValue(t testing.TB, n *Node, name, reason string) float64 {
	t.Helper()
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := reason == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == "reason" && l.GetValue() == reason
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestJournalAppendFailure: when the journal cannot take a transaction the
// client gets an error, and the transaction is neither in the pool nor
// gossiped.
func TestJournalAppendFailure(t *testing.T) {
	cfg := newTestHome(t, 100*time.Millisecond, time.Time{})
	cfg.Metrics.Enabled = false
	n := newTestNode(t, cfg, &fakeClock{now: time.Now()})
	defer n.Close()
	if err := n.journal.Close(); err != nil {
		t.Fatal(err)
	}
	dev := DevAccounts(2)
	raw := devTransfer(t, n.Chain().Rules(), dev[0], dev[1].Address, 0, big.NewInt(1))
	_, err := rpcPool{n.pool, n.net, n.journal}.Add(raw)
	if !errors.Is(err, mempool.ErrJournalClosed) {
		t.Fatalf("add with the journal closed: %v", err)
	}
	if n.Mempool().Len() != 0 {
		t.Fatalf("pool holds %d after a failed append", n.Mempool().Len())
	}
	if got := poolMessages.Message(err); got == "" {
		t.Fatal("no client message for a failed journal append")
	}
}

// BenchmarkRPCAdmission measures the RPC admission path (rpcPool.Add:
// pool admission, then the journal's append and fsync when it is on) from
// many concurrent clients, over a real chain store and a real journal file.
// go test ./node -run '^$' -bench RPCAdmission -benchtime 20000x -count 3
func BenchmarkRPCAdmission(b *testing.B) {
	const clients = 64
	for _, on := range []bool{false, true} {
		name := "journal=off"
		if on {
			name = "journal=on"
		}
		b.Run(name, func(b *testing.B) {
			// One transfer per sender (nonce 0), as from b.N wallets: the
			// requests in flight never wait on each other's nonces.
			senders := b.N
			home := filepath.Join(b.TempDir(), "home")
			cfg := DefaultConfig()
			cfg.Metrics.Enabled, cfg.P2P.Enabled, cfg.RPC.Enabled = false, false, false
			if _, err := Init(InitOptions{Home: home, BlockTime: time.Second, DevAccounts: senders, Config: &cfg}); err != nil {
				b.Fatal(err)
			}
			cfg, err := LoadConfig(home)
			if err != nil {
				b.Fatal(err)
			}
			cfg.Mempool.Journal = on
			n, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Clock: &fakeClock{now: time.Now()}})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			rules := n.Chain().Rules()
			dev := DevAccounts(senders)
			raws := make([][]byte, senders)
			for s := range senders {
				raws[s] = devTransfer(b, rules, dev[s], dev[(s+1)%senders].Address, 0, big.NewInt(1))
			}
			p := rpcPool{n.pool, n.net, n.journal}
			var next atomic.Int64
			b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Add(raws[next.Add(1)-1]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			if syncs := metricValue(b, n, "bizra_mempool_journal_syncs_total", ""); syncs > 0 {
				b.ReportMetric(float64(n.journal.Stats().Records)/syncs, "records/sync")
				mfs, _ := n.Registry().Gather()
				for _, mf := range mfs {
					if mf.GetName() == "bizra_mempool_journal_sync_seconds" {
						h := mf.GetMetric()[0].GetHistogram()
						b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1e6, "µs/sync")
					}
				}
			}
		})
	}
}
