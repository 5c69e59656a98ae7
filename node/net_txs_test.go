package node

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
)

// countingState counts the account reads of a pool: one per transaction
// that got past sender recovery.
type countingState struct {
	c     *chain.Chain
	reads atomic.Int64
}

func (s *countingState) Account(a chain.Address) (chain.Account, error) {
	s.reads.Add(1)
	return s.c.Account(a)
}

// txGossipFixture is a transaction gossip validator over a real pool on a
// real devnet chain (dev accounts funded), with a settable clock.
type txGossipFixture struct {
	g     *txGossip
	pool  *mempool.Pool
	c     *chain.Chain
	state *countingState
	dev   []DevAccount
	now   time.Time
}

func newTxGossipFixture(t testing.TB, log *slog.Logger) *txGossipFixture {
	t.Helper()
	n, err := New(newTestHomeTB(t), Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	f := &txGossipFixture{c: n.Chain(), state: &countingState{c: n.Chain()}, dev: FundedDevAccounts(n.Chain().Genesis()), now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	f.pool, err = mempool.New(mempool.DefaultConfig(), f.c.Rules(), f.state, mempool.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	f.g = newTxGossip(f.pool, log)
	f.g.now = func() time.Time { return f.now }
	return f
}

// newTestHomeTB is newTestHome for tests and fuzz targets alike.
func newTestHomeTB(t testing.TB) Config {
	t.Helper()
	home := t.TempDir() + "/home"
	cfg := DefaultConfig()
	cfg.Metrics.ListenAddr, cfg.RPC.ListenAddr, cfg.P2P.Enabled = "127.0.0.1:0", "127.0.0.1:0", false
	if _, err := Init(InitOptions{Home: home, BlockTime: time.Second, DevAccounts: 10, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// transfer signs a transfer of value 1 from k.
func (f *txGossipFixture) transfer(t testing.TB, k *ecdsa.PrivateKey, nonce uint64) []byte {
	t.Helper()
	r := f.c.Rules()
	to := chain.Address{0x70}
	signed, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(r.ChainID), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
		Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
	}), r.Signer(), k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// junkKey returns deterministic key i of an account nobody funded.
func junkKey(t testing.TB, i int) *ecdsa.PrivateKey {
	t.Helper()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("tx gossip junk key"), b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// flipped is raw with one bit of the signature's s flipped: it still
// recovers a sender, some address nobody funded.
func flipped(raw []byte) []byte {
	out := bytes.Clone(raw)
	out[len(out)-2] ^= 0x01
	return out
}

// unrecoverable is a transfer whose signature recovers no sender (r = 0).
func (f *txGossipFixture) unrecoverable(t testing.TB) []byte {
	t.Helper()
	r := f.c.Rules()
	to := chain.Address{0x70}
	raw, err := types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(r.ChainID), GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
		Gas: chain.TransferGas, To: &to, Value: big.NewInt(1), V: big.NewInt(0), R: big.NewInt(0), S: big.NewInt(1),
	}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (f *txGossipFixture) held(raws [][]byte) int {
	n := 0
	for _, r := range raws {
		if _, ok := f.pool.Get(chain.Keccak256(r)); ok {
			n++
		}
	}
	return n
}

// TestTxBatchVerdicts runs the validator on batches an honest node sends
// and on the junk a keyless peer can make, with real signed transactions.
func TestTxBatchVerdicts(t *testing.T) {
	type setup struct {
		batch  [][]byte
		before [][]byte // admitted before the batch arrives
	}
	cases := []struct {
		name     string
		make     func(t *testing.T, f *txGossipFixture) setup
		encoded  func(raws [][]byte) []byte // nil: encodeTxBatch
		want     p2p.Verdict
		admitted int // of the batch, held afterwards
		requeued int // queued for this node's own batches
	}{
		{"valid transfers", func(t *testing.T, f *txGossipFixture) setup {
			return setup{batch: [][]byte{f.transfer(t, f.dev[0].Key, 0), f.transfer(t, f.dev[0].Key, 1), f.transfer(t, f.dev[1].Key, 0)}}
		}, nil, p2p.Accept, 3, 0},
		{"new and already held", func(t *testing.T, f *txGossipFixture) setup {
			a := f.transfer(t, f.dev[0].Key, 0)
			return setup{before: [][]byte{a}, batch: [][]byte{a, f.transfer(t, f.dev[0].Key, 1)}}
		}, nil, p2p.Accept, 2, 0},
		{"all already held", func(t *testing.T, f *txGossipFixture) setup {
			a := f.transfer(t, f.dev[0].Key, 0)
			return setup{before: [][]byte{a}, batch: [][]byte{a}}
		}, nil, p2p.Ignore, 1, 0},
		{"full batch of the node's own size", func(t *testing.T, f *txGossipFixture) setup {
			var b [][]byte
			for n := range uint64(txBatchMax) {
				b = append(b, f.transfer(t, f.dev[2].Key, n))
			}
			return setup{batch: b}
		}, nil, p2p.Accept, txBatchMax, 0},
		{"more than the node sends", func(t *testing.T, f *txGossipFixture) setup {
			var b [][]byte
			for n := range uint64(txBatchMax + 1) {
				b = append(b, f.transfer(t, f.dev[2].Key, n))
			}
			return setup{batch: b}
		}, nil, p2p.Reject, 0, 0},
		{"undecodable batch", func(t *testing.T, f *txGossipFixture) setup {
			return setup{batch: [][]byte{f.transfer(t, f.dev[0].Key, 0)}}
		}, func(raws [][]byte) []byte { b := encodeTxBatch(raws); return b[:len(b)-1] }, p2p.Reject, 0, 0},
		{"undecodable transaction among valid ones", func(t *testing.T, f *txGossipFixture) setup {
			return setup{batch: [][]byte{f.transfer(t, f.dev[0].Key, 0), {0xc3, 0x01, 0x02, 0x03}, f.transfer(t, f.dev[0].Key, 1)}}
		}, nil, p2p.Reject, 0, 0},
		{"unrecoverable signature among valid ones", func(t *testing.T, f *txGossipFixture) setup {
			return setup{batch: [][]byte{f.transfer(t, f.dev[0].Key, 0), f.unrecoverable(t)}}
		}, nil, p2p.Reject, 0, 0},
		{"wrong chain id", func(t *testing.T, f *txGossipFixture) setup {
			raw := f.transfer(t, f.dev[0].Key, 0)
			tx := new(types.Transaction)
			if err := tx.UnmarshalBinary(raw); err != nil {
				t.Fatal(err)
			}
			other, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(1), GasTipCap: tx.GasTipCap(), GasFeeCap: tx.GasFeeCap(), Gas: tx.Gas(), To: tx.To(), Value: tx.Value()}), types.NewLondonSigner(big.NewInt(1)), f.dev[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := other.MarshalBinary()
			return setup{batch: [][]byte{b}}
		}, nil, p2p.Reject, 0, 0},
		{"one valid among unfunded senders", func(t *testing.T, f *txGossipFixture) setup {
			b := [][]byte{f.transfer(t, f.dev[0].Key, 0)}
			for i := range 20 {
				b = append(b, f.transfer(t, junkKey(t, i), 0))
			}
			return setup{batch: b}
		}, nil, p2p.Ignore, 1, 1},
		{"one valid among corrupted signatures", func(t *testing.T, f *txGossipFixture) setup {
			b := [][]byte{f.transfer(t, f.dev[0].Key, 0)}
			for n := range uint64(20) {
				b = append(b, flipped(f.transfer(t, f.dev[1].Key, n)))
			}
			return setup{batch: b}
		}, nil, p2p.Ignore, 1, 1},
		{"nonce just used", func(t *testing.T, f *txGossipFixture) setup {
			// A block included nonce 0 just before the batch arrived.
			used := f.transfer(t, f.dev[0].Key, 0)
			tx, err := f.c.Rules().DecodeTx(used)
			if err != nil {
				t.Fatal(err)
			}
			b := f.c.NewBuilder(chain.BuildParams{})
			if err := b.Add(tx); err != nil {
				t.Fatal(err)
			}
			pend := b.Finish()
			if err := f.c.Commit(pend); err != nil {
				t.Fatal(err)
			}
			f.pool.Committed(pend.Changes())
			return setup{batch: [][]byte{used, f.transfer(t, f.dev[0].Key, 1)}}
		}, nil, p2p.Ignore, 1, 1},
		{"replacement race", func(t *testing.T, f *txGossipFixture) setup {
			// The pool holds nonce 0 by another transaction: the batch's
			// nonce 0 is refused as an underpriced replacement, its nonce 1
			// admitted.
			mine := f.transfer(t, f.dev[0].Key, 0)
			r := f.c.Rules()
			to := chain.Address{0x71}
			signed, _ := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: new(big.Int).SetUint64(r.ChainID), Nonce: 0, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(2)}), r.Signer(), f.dev[0].Key)
			theirs, _ := signed.MarshalBinary()
			return setup{before: [][]byte{mine}, batch: [][]byte{theirs, f.transfer(t, f.dev[0].Key, 1)}}
		}, nil, p2p.Ignore, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newTxGossipFixture(t, testLogger(t))
			s := c.make(t, f)
			for _, r := range s.before {
				if _, err := f.pool.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			enc := encodeTxBatch
			if c.encoded != nil {
				enc = c.encoded
			}
			data := enc(s.batch)
			got := f.g.validate("peer", data)
			clear(data) // the pool must not keep the message's bytes
			held := f.held(s.batch)
			t.Logf("%d transactions: %v, %d of them held, %d queued to publish", len(s.batch), got, held, len(f.g.pending))
			if got != c.want || held != c.admitted || len(f.g.pending) != c.requeued {
				t.Fatalf("verdict %v, %d held, %d queued; want %v, %d, %d", got, held, len(f.g.pending), c.want, c.admitted, c.requeued)
			}
			for _, r := range f.g.pending {
				if _, ok := f.pool.Get(chain.Keccak256(r)); !ok {
					t.Fatal("queued a transaction the pool does not hold")
				}
			}
		})
	}
}

// TestTxBatchStaleBudget: a peer that sends full batches of validly encoded
// transfers with corrupted signatures (each recovers an unfunded address,
// so each costs a recovery and is refused as unfunded, no penalty) gets
// its first batches read, then is ignored unread until its budget refills;
// an honest author beside it is not affected.
func TestTxBatchStaleBudget(t *testing.T) {
	f := newTxGossipFixture(t, slog.New(slog.DiscardHandler))
	var junk [][]byte
	for n := range uint64(txBatchMax) {
		junk = append(junk, flipped(f.transfer(t, f.dev[3].Key, n)))
	}
	var recovered []int64
	for i := range 20 {
		// A new batch each time (GossipSub drops an identical one).
		batch := append([][]byte{flipped(f.transfer(t, f.dev[4].Key, uint64(i)))}, junk[:txBatchMax-1]...)
		before := f.state.reads.Load()
		if v := f.g.validate("attacker", encodeTxBatch(batch)); v != p2p.Ignore {
			t.Fatalf("batch %d: %v", i, v)
		}
		recovered = append(recovered, f.state.reads.Load()-before)
		f.now = f.now.Add(100 * time.Millisecond)
	}
	total := int64(0)
	for _, r := range recovered {
		total += r
	}
	t.Logf("20 junk batches of %d in 2 s: %d transactions recovered and refused (per batch %v)", txBatchMax, total, recovered)
	if total > 2*txBatchMax {
		t.Fatalf("recovered %d of the junk", total)
	}
	// An honest author is read as before.
	if v := f.g.validate("honest", encodeTxBatch([][]byte{f.transfer(t, f.dev[0].Key, 0)})); v != p2p.Accept {
		t.Fatalf("honest batch: %v", v)
	}
	// Once the budget refills, the attacker's batches are read again.
	f.now = f.now.Add(time.Minute)
	before := f.state.reads.Load()
	f.g.validate("attacker", encodeTxBatch(append([][]byte{flipped(f.transfer(t, f.dev[4].Key, 99))}, junk[:10]...)))
	if f.state.reads.Load() == before {
		t.Fatal("the attacker's budget did not refill")
	}
}

// TestTxBatchHonestRacesKeepBudget: an author whose batches now and then
// carry a transaction refused here (a race) keeps being read.
func TestTxBatchHonestRacesKeepBudget(t *testing.T) {
	f := newTxGossipFixture(t, slog.New(slog.DiscardHandler))
	nonce := uint64(0)
	for i := range 50 {
		var batch [][]byte
		for range 20 {
			batch = append(batch, f.transfer(t, f.dev[5].Key, nonce))
			nonce++
		}
		batch = append(batch, f.transfer(t, junkKey(t, i), 0)) // one refused as unfunded
		if v := f.g.validate("honest", encodeTxBatch(batch)); v != p2p.Ignore || f.held(batch) != 20 {
			t.Fatalf("batch %d: %v, %d held", i, v, f.held(batch))
		}
		if nonce >= 1000 {
			break
		}
	}
	if len(f.g.stale.peers) != 0 {
		t.Fatalf("a peer in credit is tracked: %v", f.g.stale.peers)
	}
}

func TestTxBatchNextRespectsBytes(t *testing.T) {
	g := newTxGossip(nil, slog.New(slog.DiscardHandler))
	big := bytes.Repeat([]byte{1}, txBatchBytes/3+1)
	for range 4 {
		g.queue(big)
	}
	g.queue([]byte{2})
	var sizes []int
	for b := g.next(); b != nil; b = g.next() {
		if len(encodeTxBatch(b)) > maxTxBatchPayload {
			t.Fatalf("batch of %d bytes", len(encodeTxBatch(b)))
		}
		sizes = append(sizes, len(b))
	}
	if len(sizes) != 2 || sizes[0] != 2 || sizes[1] != 3 || g.bytes != 0 {
		t.Fatalf("batches %v, %d bytes left", sizes, g.bytes)
	}
}

// TestStaleBudgetBounded: however many peers run their budget down, at most
// stalePeers of them are tracked.
func TestStaleBudgetBounded(t *testing.T) {
	var b staleBudget
	now := time.Unix(0, 0)
	for i := range stalePeers + 100 {
		b.settle(fmt.Sprint("peer-", i), staleBurst, 0, now)
	}
	if n := len(b.peers); n != stalePeers {
		t.Fatalf("%d peers tracked, want %d", n, stalePeers)
	}
	if b.allow(fmt.Sprint("peer-", stalePeers+99), now) {
		t.Fatal("the last peer to run its budget down is read")
	}
}

// FuzzTxBatchValidate feeds arbitrary batches to the validator over a real
// pool: it must not panic, a batch it accepts must have left every one of
// its transactions in the pool, and a rejected one none that it brought.
// Seeds in testdata/fuzz/FuzzTxBatchValidate (TestTxBatchValidateCorpus);
// go test ./node -run '^$' -fuzz FuzzTxBatchValidate -fuzztime 1m
func FuzzTxBatchValidate(f *testing.F) {
	fx := newTxGossipFixture(f, slog.New(slog.DiscardHandler))
	for _, s := range txBatchSeeds(f, fx) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raws, decErr := decodeTxBatch(data)
		heldBefore := fx.held(raws)
		v := fx.g.validate("fuzz", data)
		switch {
		case decErr != nil && v != p2p.Reject:
			t.Fatalf("undecodable batch: %v", v)
		case v == p2p.Accept && fx.held(raws) != len(raws):
			t.Fatalf("accepted a batch with %d of %d held", fx.held(raws), len(raws))
		case v == p2p.Reject && fx.held(raws) != heldBefore:
			t.Fatal("a rejected batch changed the pool")
		}
		fx.g.mu.Lock()
		fx.g.pending, fx.g.bytes = nil, 0
		fx.g.mu.Unlock()
	})
}

func txBatchSeeds(t testing.TB, fx *txGossipFixture) [][]byte {
	good := fx.transfer(t, fx.dev[0].Key, 0)
	return [][]byte{
		encodeTxBatch([][]byte{good}),
		encodeTxBatch([][]byte{good, fx.transfer(t, fx.dev[0].Key, 1)}),
		encodeTxBatch([][]byte{good, fx.transfer(t, junkKey(t, 1), 0)}),
		encodeTxBatch([][]byte{flipped(good)}),
		encodeTxBatch([][]byte{fx.unrecoverable(t)}),
		encodeTxBatch([][]byte{{0x02, 0xc0}}),
		{0, 0, 0, 1, 0, 0, 0, 1, 5},
	}
}

// TestTxBatchValidateCorpus writes the FuzzTxBatchValidate seed corpus when
// BIZRA_UPDATE_CORPUS is set and otherwise checks that it exists.
func TestTxBatchValidateCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzTxBatchValidate")
	if os.Getenv("BIZRA_UPDATE_CORPUS") == "" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (BIZRA_UPDATE_CORPUS=1 go test -run TestTxBatchValidateCorpus ./node)", dir)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fx := newTxGossipFixture(t, slog.New(slog.DiscardHandler))
	for i, b := range txBatchSeeds(t, fx) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// within polls cond until it holds or d passes, and reports whether it held.
func within(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestTxGossipOverLibp2p runs the validator in a real 4-validator testnet on
// libp2p. Node 0 plays a careless relay: besides an honest transfer it
// publishes a batch mixing one valid transfer with transfers from unfunded
// senders, and a batch whose second transaction's signature recovers no
// sender. The mixed batch is ignored but its valid transfer still reaches
// every node (they publish it again on their own) and is committed; the
// invalid batch is rejected, nothing in it is admitted, and node 0's gossip
// score falls below zero on every peer.
func TestTxGossipOverLibp2p(t *testing.T) {
	nodes := p2pTestnet(t, 4, 300*time.Millisecond)
	waitFor(t, 30*time.Second, "three peers each and height 2", func() bool {
		for _, nd := range nodes {
			if len(nd.net.Peers()) < 3 || heightOf(nd) < 2 {
				return false
			}
		}
		return true
	})
	f := &txGossipFixture{c: nodes[0].Chain(), dev: FundedDevAccounts(nodes[0].Chain().Genesis())}
	reached := func(k *ecdsa.PrivateKey, raw []byte) func() bool {
		from := crypto.PubkeyToAddress(k.PublicKey)
		return func() bool {
			for _, nd := range nodes[1:] {
				_, pooled := nd.Mempool().Get(chain.Keccak256(raw))
				if a, _ := nd.Chain().Account(from); !pooled && a.Nonce == 0 {
					return false
				}
			}
			return true
		}
	}
	// The honest path: admitted at node 0, gossiped, held or committed by all.
	honest := f.transfer(t, f.dev[0].Key, 0)
	if _, err := nodes[0].Mempool().Add(honest); err != nil {
		t.Fatal(err)
	}
	nodes[0].net.GossipTx(honest)
	waitFor(t, 30*time.Second, "the honest transfer on every node", reached(f.dev[0].Key, honest))

	// The mixed batch, not admitted at node 0: published again until a mesh
	// carries it (copies of one payload are one message).
	valid := f.transfer(t, f.dev[1].Key, 0)
	mixed := [][]byte{valid}
	for i := range 20 {
		mixed = append(mixed, f.transfer(t, junkKey(t, i), 0))
	}
	arrived := reached(f.dev[1].Key, valid)
	for attempt := 0; !arrived(); attempt++ {
		if attempt == 60 {
			t.Fatal("the valid transfer of the mixed batch did not reach every node")
		}
		for _, r := range mixed {
			nodes[0].net.txs.queue(r)
		}
		within(500*time.Millisecond, arrived)
	}
	from1 := f.dev[1].Address
	waitFor(t, 30*time.Second, "the valid transfer committed everywhere", func() bool {
		for _, nd := range nodes {
			if a, _ := nd.Chain().Account(from1); a.Nonce != 1 {
				return false
			}
		}
		return true
	})
	for _, nd := range nodes {
		for _, r := range mixed[1:] {
			if _, ok := nd.Mempool().Get(chain.Keccak256(r)); ok {
				t.Fatal("a node holds a transfer of an unfunded sender")
			}
		}
	}

	// The invalid batch.
	carried := f.transfer(t, f.dev[2].Key, 0)
	id := hostOf(nodes[0]).ID()
	score := func(nd *Node) (float64, bool) {
		for _, p := range nd.net.Peers() {
			if p.ID == id {
				return p.Score, true
			}
		}
		return 0, false
	}
	nodes[0].net.txs.queue(carried)
	nodes[0].net.txs.queue(f.unrecoverable(t))
	waitFor(t, 30*time.Second, "node 0's score below zero on every peer", func() bool {
		for _, nd := range nodes[1:] {
			if s, ok := score(nd); !ok || s >= 0 {
				return false
			}
		}
		return true
	})
	for i, nd := range nodes[1:] {
		s, _ := score(nd)
		t.Logf("node %d scores node 0 at %.1f", i+1, s)
		if _, ok := nd.Mempool().Get(chain.Keccak256(carried)); ok {
			t.Fatal("a transaction of a rejected batch was admitted")
		}
	}
}

// BenchmarkTxBatchValidate validates a full batch (512 transfers from ten
// senders) into an empty pool: the cost per gossiped batch, dominated by
// sender recovery. The junk variant is 512 transfers with corrupted
// signatures (each recovers an unfunded address), from a new author each
// time, as a keyless peer would send them.
func BenchmarkTxBatchValidate(b *testing.B) {
	fx := newTxGossipFixture(b, slog.New(slog.DiscardHandler))
	var honest, junk [][]byte
	for i := range txBatchMax {
		k := fx.dev[i%10].Key
		honest = append(honest, fx.transfer(b, k, uint64(i/10)))
		junk = append(junk, flipped(fx.transfer(b, k, uint64(1000+i))))
	}
	for _, c := range []struct {
		name  string
		batch [][]byte
		want  p2p.Verdict
	}{{"honest", honest, p2p.Accept}, {"junk", junk, p2p.Ignore}} {
		data := encodeTxBatch(c.batch)
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				pool, err := mempool.New(mempool.DefaultConfig(), fx.c.Rules(), fx.c, mempool.Options{})
				if err != nil {
					b.Fatal(err)
				}
				g := newTxGossip(pool, slog.New(slog.DiscardHandler))
				i++
				b.StartTimer()
				if v := g.validate(fmt.Sprint("author-", i), data); v != c.want {
					b.Fatalf("verdict %v", v)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.batch)), "ns/tx")
		})
	}
}
