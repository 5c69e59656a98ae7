package chain

import (
	"crypto/ecdsa"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// testWorld is a genesis with n funded keys and a nonce tracker.
type testWorld struct {
	keys   []*ecdsa.PrivateKey
	nonces []uint64
	g      *Genesis
}

func newTestWorld(t testing.TB, n int) *testWorld {
	w := &testWorld{nonces: make([]uint64, n)}
	var addrs []Address
	for i := range n {
		k := testKey(t, i)
		w.keys = append(w.keys, k)
		addrs = append(addrs, keyAddr(k))
	}
	w.g = testGenesis(addrs...)
	return w
}

// transfer signs the next transfer of key i to address to.
func (w *testWorld) transfer(t testing.TB, i int, to Address, value uint64) *Tx {
	t.Helper()
	typ := []uint8{types.LegacyTxType, types.AccessListTxType, types.DynamicFeeTxType}[w.nonces[i]%3]
	tx := verifiedTx(t, w.g.Rules(), w.keys[i], txSpec{typ: typ, nonce: w.nonces[i], to: &to, value: uint256.NewInt(value)})
	w.nonces[i]++
	return tx
}

func buildBlock(t testing.TB, c *Chain, txs []*Tx, ts uint64) *Pending {
	t.Helper()
	b := c.NewBuilder(BuildParams{Proposer: testFeeAddr, Timestamp: ts})
	for _, tx := range txs {
		if err := b.Add(tx); err != nil {
			t.Fatalf("add %s: %v", tx.Hash, err)
		}
	}
	return b.Finish()
}

func totalSupply(t testing.TB, s *Store) uint256.Int {
	var sum uint256.Int
	if err := s.ForEachAccount(func(_ Address, a Account) bool { sum.Add(&sum, &a.Balance); return true }); err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestChainBuildCommitReopen(t *testing.T) {
	w := newTestWorld(t, 3)
	c, fs := openMemChain(t, w.g)
	supply := totalSupply(t, c.Store())
	a0, a1, a2 := keyAddr(w.keys[0]), keyAddr(w.keys[1]), keyAddr(w.keys[2])
	fresh := Address{0xaa}

	b := c.NewBuilder(BuildParams{Proposer: testFeeAddr, Round: 7, Timestamp: 1})
	good := []*Tx{w.transfer(t, 0, a1, 10), w.transfer(t, 0, fresh, 20), w.transfer(t, 1, a2, 30)}
	for _, tx := range good {
		if err := b.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	// Rejected transactions leave no trace: a replay and a nonce gap.
	if err := b.Add(good[0]); !errors.Is(err, ErrNonceTooLow) {
		t.Fatalf("replay: %v", err)
	}
	w.nonces[2] = 5
	if err := b.Add(w.transfer(t, 2, a0, 1)); !errors.Is(err, ErrNonceTooHigh) {
		t.Fatalf("gap: %v", err)
	}
	p := b.Finish()
	h := p.Block.Header
	if h.Height != 1 || h.Round != 7 || len(p.Block.Txs) != 3 || h.GasUsed != 3*TransferGas {
		t.Fatalf("header %+v with %d txs", h, len(p.Block.Txs))
	}
	genesisHdr, genesisHash := c.Head()
	if h.ParentHash != genesisHash || h.Timestamp <= genesisHdr.Timestamp {
		t.Fatalf("parent %s ts %d, genesis %s ts %d", h.ParentHash, h.Timestamp, genesisHash, genesisHdr.Timestamp)
	}
	p.Block.Cert = []byte("qc")
	if err := c.Commit(p); err != nil {
		t.Fatal(err)
	}

	check := func(c *Chain) {
		t.Helper()
		head, hash := c.Head()
		if head.Height != 1 || hash != p.Block.Hash() {
			t.Fatalf("head %d %s", head.Height, hash)
		}
		st := c.Store()
		blk, err := st.Block(1)
		if err != nil || blk.Hash() != hash || string(blk.Cert) != "qc" {
			t.Fatalf("block 1: %v", err)
		}
		if hgt, err := st.BlockHeight(hash); err != nil || hgt != 1 {
			t.Fatalf("hash index: %d %v", hgt, err)
		}
		rs, err := st.Receipts(1)
		if err != nil || len(rs) != 3 {
			t.Fatalf("receipts: %v %d", err, len(rs))
		}
		for i, tx := range good {
			hgt, idx, err := st.TxLocation(tx.Hash)
			if err != nil || hgt != 1 || idx != uint32(i) {
				t.Fatalf("tx %d location %d/%d %v", i, hgt, idx, err)
			}
			if rs[i].From != tx.From || rs[i].CumulativeGasUsed != uint64(i+1)*TransferGas {
				t.Fatalf("receipt %d: %+v", i, rs[i])
			}
		}
		if _, _, err := st.TxLocation(Hash{1}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown tx: %v", err)
		}
		if a := mustAccount(t, c, a0); a.Nonce != 2 {
			t.Fatalf("nonce of a0 %d", a.Nonce)
		}
		if a := mustAccount(t, c, fresh); !a.Balance.Eq(uint256.NewInt(20)) {
			t.Fatalf("fresh account %s", a.Balance.Dec())
		}
		if a := mustAccount(t, st, testFeeAddr); a.Balance.IsZero() {
			t.Fatal("proposer got no fees")
		}
		if got := totalSupply(t, st); !got.Eq(&supply) {
			t.Fatalf("supply %s, want %s", got.Dec(), supply.Dec())
		}
		if _, err := Verify(st, w.g); err != nil {
			t.Fatal(err)
		}
	}
	check(c)

	// Reopen on the same filesystem.
	if err := c.Store().Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openChainOn(t, fs, w.g)
	check(c2)
	// And keep going.
	p2 := buildBlock(t, c2, []*Tx{w.transfer(t, 1, a0, 5)}, 0)
	if err := c2.Commit(p2); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(c2.Store(), w.g); err != nil || rep.Height != 2 || rep.Txs != 4 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestGenesisMismatchRefused(t *testing.T) {
	w := newTestWorld(t, 1)
	c, fs := openMemChain(t, w.g)
	_ = c.Store().Close()
	other := newTestWorld(t, 2).g
	st, err := OpenStore("db", StoreOptions{FS: fs, CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := New(st, other, DefaultConfig(), nil, nil); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("got %v", err)
	}
}

func TestCommitStalePending(t *testing.T) {
	w := newTestWorld(t, 2)
	c, _ := openMemChain(t, w.g)
	p1 := buildBlock(t, c, nil, 0)
	p2 := buildBlock(t, c, nil, 0)
	if err := c.Commit(p1); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(p2); !errors.Is(err, ErrStalePending) {
		t.Fatalf("got %v", err)
	}
	if err := c.Commit(p1); !errors.Is(err, ErrStalePending) {
		t.Fatalf("double commit: %v", err)
	}
}

func TestExecuteAgreesWithBuilder(t *testing.T) {
	w := newTestWorld(t, 4)
	a, _ := openMemChain(t, w.g)
	b, _ := openMemChain(t, w.g)
	for round := range 3 {
		var txs []*Tx
		for i := range 4 {
			txs = append(txs, w.transfer(t, i, keyAddr(w.keys[(i+1)%4]), uint64(100+round)))
		}
		p := buildBlock(t, a, txs, 0)
		// B re-executes from raw bytes, recovering every sender.
		raw, err := DecodeBlock(p.Block.Encode())
		if err != nil {
			t.Fatal(err)
		}
		q, err := b.Execute(raw, nil, noBound)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Commit(p); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(q); err != nil {
			t.Fatal(err)
		}
	}
	_, ha := a.Head()
	_, hb := b.Head()
	if ha != hb {
		t.Fatalf("heads differ: %s %s", ha, hb)
	}
}

// noBound is a timestamp bound that no test block reaches.
const noBound = maxTimestamp

func TestExecuteRejectsTampering(t *testing.T) {
	w := newTestWorld(t, 3)
	w.g.Limits.BlockMaxTxs = 5
	a, _ := openMemChain(t, w.g)
	b, _ := openMemChain(t, w.g)
	a1, a2 := keyAddr(w.keys[1]), keyAddr(w.keys[2])
	txs := []*Tx{w.transfer(t, 0, a1, 10), w.transfer(t, 0, a2, 10), w.transfer(t, 1, a2, 10)}
	p := buildBlock(t, a, txs, 0)
	enc := p.Block.Encode()
	fresh := func() *Block {
		blk, err := DecodeBlock(enc)
		if err != nil {
			t.Fatal(err)
		}
		return blk
	}
	if _, err := b.Execute(fresh(), nil, noBound); err != nil {
		t.Fatalf("untampered block rejected: %v", err)
	}
	otherKey := testKey(t, 99)
	foreign := rawTx(t, otherKey, txSpec{typ: types.DynamicFeeTxType})
	cases := []struct {
		name string
		mut  func(*Block)
		want string // what the error must say
	}{
		{"chain id", func(b *Block) { b.Header.ChainID++ }, "chain id"},
		{"height", func(b *Block) { b.Header.Height++ }, "height does not follow"},
		{"parent", func(b *Block) { b.Header.ParentHash[0] ^= 1 }, "parent"},
		{"timestamp before parent", func(b *Block) { b.Header.Timestamp = 0 }, "not after parent"},
		{"proposer", func(b *Block) { b.Header.Proposer = a1 }, "not a validator"},
		{"gas used", func(b *Block) { b.Header.GasUsed-- }, "gas used"},
		{"tx root", func(b *Block) { b.Header.TxRoot[0] ^= 1 }, "transactions root mismatch"},
		{"state root", func(b *Block) { b.Header.StateRoot[0] ^= 1 }, "state root mismatch"},
		{"receipts root", func(b *Block) { b.Header.ReceiptsRoot[0] ^= 1 }, "receipts root mismatch"},
		{"nonces out of order", func(b *Block) { b.Txs[0], b.Txs[1] = b.Txs[1], b.Txs[0] }, "nonce too high"},
		{"senders reordered", func(b *Block) { b.Txs[1], b.Txs[2] = b.Txs[2], b.Txs[1] }, "transactions root mismatch"},
		{"dropped tx", func(b *Block) { b.Txs = b.Txs[1:] }, "nonce too high"},
		{"unfunded sender", func(b *Block) { b.Txs = append(b.Txs, foreign) }, "insufficient funds"},
		{"garbage tx", func(b *Block) { b.Txs[2] = []byte{0x02, 0x01} }, "malformed transaction"},
		{"oversized tx", func(b *Block) { b.Txs[2] = make([]byte, 4096) }, "oversized"},
		{"flipped sig bit", func(b *Block) { b.Txs[2][len(b.Txs[2])-1] ^= 1 }, "tx 2"},
		{"too many txs", func(b *Block) {
			for len(b.Txs) <= w.g.Limits.BlockMaxTxs {
				b.Txs = append(b.Txs, b.Txs[0])
			}
		}, "transactions, limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blk := fresh()
			tc.mut(blk)
			_, err := b.Execute(blk, nil, noBound)
			if !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadBlock saying %q", err, tc.want)
			}
		})
	}
	// A timestamp beyond the caller's bound is refused.
	blk := fresh()
	if _, err := b.Execute(blk, nil, blk.Header.Timestamp-1); !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), "future") {
		t.Fatalf("future timestamp: %v", err)
	}
	// A sender lookup is used instead of recovery, but never trusted to
	// make an invalid block valid.
	lookup := func(h Hash) (Address, bool) {
		for _, tx := range txs {
			if tx.Hash == h {
				return tx.From, true
			}
		}
		return Address{}, false
	}
	if _, err := b.Execute(fresh(), lookup, noBound); err != nil {
		t.Fatalf("with lookup: %v", err)
	}
}

func TestBuilderLimits(t *testing.T) {
	w := newTestWorld(t, 1)
	w.g.Limits.BlockMaxTxs = 2
	c, _ := openMemChain(t, w.g)
	b := c.NewBuilder(BuildParams{Proposer: testFeeAddr})
	for i := range 2 {
		if err := b.Add(w.transfer(t, 0, Address{1}, 1)); err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := b.Add(w.transfer(t, 0, Address{1}, 1)); !errors.Is(err, ErrBlockFull) {
		t.Fatalf("got %v", err)
	}
	w2 := newTestWorld(t, 1)
	w2.g.Limits.BlockGasLimit = TransferGas + 1
	c2, _ := openMemChain(t, w2.g)
	b2 := c2.NewBuilder(BuildParams{Proposer: testFeeAddr})
	if err := b2.Add(w2.transfer(t, 0, Address{1}, 1)); err != nil {
		t.Fatal(err)
	}
	if err := b2.Add(w2.transfer(t, 0, Address{1}, 1)); !errors.Is(err, ErrBlockFull) {
		t.Fatalf("gas limit: %v", err)
	}
}

// TestCrashDuringCommits takes crash images of the filesystem while blocks
// are being committed: every image must reopen at a block at least as high
// as the last commit that had returned before the image was taken, and
// replay to a consistent store. Images keep a random share of the data that
// was written but not synced, as a power cut would.
func TestCrashDuringCommits(t *testing.T) {
	w := newTestWorld(t, 8)
	fs := vfs.NewCrashableMem()
	c := openChainOn(t, fs, w.g)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	type image struct {
		fs        *vfs.MemFS
		committed uint64 // commits returned before the image was taken
	}
	var committed atomic.Uint64
	var mu sync.Mutex
	var images []image
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // images at arbitrary points, racing the commits
		defer close(done)
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			before := committed.Load()
			im := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, i))})
			mu.Lock()
			images = append(images, image{im, before})
			mu.Unlock()
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for h := uint64(1); h <= 30; h++ {
		var txs []*Tx
		for range rng.IntN(6) {
			i := rng.IntN(len(w.keys))
			txs = append(txs, w.transfer(t, i, keyAddr(w.keys[rng.IntN(len(w.keys))]), rng.Uint64N(1000)))
		}
		if err := c.Commit(buildBlock(t, c, txs, 0)); err != nil {
			t.Fatal(err)
		}
		committed.Store(h)
		im := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 1_000_000+h))})
		mu.Lock()
		images = append(images, image{im, h})
		mu.Unlock()
	}
	close(stop)
	<-done
	for i, im := range images {
		st, err := OpenStore("db", StoreOptions{FS: im.fs, CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(st, w.g, DefaultConfig(), nil, nil); err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		rep, err := Verify(st, w.g)
		st.Close()
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if rep.Height < im.committed {
			t.Fatalf("image %d taken after commit %d reopened at %d: a committed block was lost", i, im.committed, rep.Height)
		}
	}
	t.Logf("%d crash images verified", len(images))
}

func TestReadsAfterCloseFail(t *testing.T) {
	w := newTestWorld(t, 1)
	c, _ := openMemChain(t, w.g)
	st := c.Store()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Block(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("block: %v", err)
	}
	if _, err := st.Account(keyAddr(w.keys[0])); !errors.Is(err, ErrClosed) {
		t.Fatalf("account: %v", err)
	}
	if _, err := st.Header(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("header: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestAuxRecords(t *testing.T) {
	s, err := OpenStore(t.TempDir(), DefaultStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Aux([]byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	if err := s.WriteAux(
		AuxWrite{Key: []byte("state"), Value: []byte("one")},
		AuxWrite{Key: []byte("p/1"), Value: []byte("a")},
		AuxWrite{Key: []byte("p/2"), Value: []byte("b")},
		AuxWrite{Key: []byte("p/3"), Value: []byte("c")},
	); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAux(AuxWrite{Key: []byte("p/1"), End: []byte("p/3"), Delete: true}, AuxWrite{Key: []byte("state"), Delete: true}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"state": "", "p/1": "", "p/2": "", "p/3": "c"} {
		v, err := s.Aux([]byte(key))
		if want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %q, %v; want deleted", key, v, err)
			}
		} else if err != nil || string(v) != want {
			t.Errorf("%s: %q, %v; want %q", key, v, err, want)
		}
	}
	// Auxiliary records never read as chain data.
	if _, ok, err := s.Head(); ok || err != nil {
		t.Fatalf("head after aux writes: %v %v", ok, err)
	}
}
