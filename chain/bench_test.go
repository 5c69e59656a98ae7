package chain

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// benchWorld is a chain on disk with many accounts, of which the first
// len(keys) can sign.
type benchWorld struct {
	c      *Chain
	keys   []*ecdsa.PrivateKey
	addrs  []Address // all accounts; addrs[:len(keys)] belong to keys
	nonces []uint64
}

func synthAddr(i int) Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return Address(Keccak256([]byte("bench account"), b[:]).Bytes()[12:])
}

// newBenchWorld creates a store in dir with accounts funded accounts and
// signers keys among them.
func newBenchWorld(b *testing.B, dir string, accounts, signers int) *benchWorld {
	b.Helper()
	w := &benchWorld{keys: make([]*ecdsa.PrivateKey, signers), addrs: make([]Address, accounts), nonces: make([]uint64, signers)}
	parallel(signers, func(i int) { w.keys[i] = testKey(b, i) })
	for i := range accounts {
		if i < signers {
			w.addrs[i] = keyAddr(w.keys[i])
		} else {
			w.addrs[i] = synthAddr(i)
		}
	}
	g := testGenesis()
	bal := U256{*new(uint256.Int).Mul(ether, uint256.NewInt(1000))}
	g.Accounts = make([]GenesisAccount, accounts)
	for i, a := range w.addrs {
		g.Accounts[i] = GenesisAccount{Address: a, Balance: bal}
	}
	st, err := OpenStore(dir, DefaultStoreOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if w.c, err = New(st, g, DefaultConfig(), nil, nil); err != nil {
		b.Fatal(err)
	}
	return w
}

// parallel runs fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// nextBlockTxs signs n transfers, one per signer, to recipients drawn from
// the first `among` accounts.
func (w *benchWorld) nextBlockTxs(b *testing.B, rng *rand.Rand, n, among int) []*Tx {
	b.Helper()
	rules := w.c.Rules()
	to := make([]Address, n)
	for i := range to {
		to[i] = w.addrs[rng.IntN(among)]
	}
	txs := make([]*Tx, n)
	parallel(n, func(i int) {
		txs[i] = verifiedTx(b, rules, w.keys[i], txSpec{typ: types.DynamicFeeTxType, nonce: w.nonces[i], to: &to[i], value: uint256.NewInt(1)})
	})
	for i := range n {
		w.nonces[i]++
	}
	return txs
}

// phases accumulates the time of each phase of applyCommit.
type phases struct{ apply, finish, commit, root time.Duration }

func (p *phases) report(b *testing.B) {
	n := float64(b.N) * 1e6
	b.ReportMetric(float64(p.apply.Nanoseconds())/n, "apply-ms/op")
	b.ReportMetric(float64(p.finish.Nanoseconds())/n, "roots-ms/op")
	b.ReportMetric(float64(p.commit.Nanoseconds())/n, "commit-ms/op")
	b.ReportMetric(float64(p.root.Nanoseconds())/n, "stateroot-ms/op")
}

// applyCommit builds a block of txs and commits it, adding the time of
// each phase to ph.
func (w *benchWorld) applyCommit(b *testing.B, txs []*Tx, ph *phases) {
	t0 := time.Now()
	bl := w.c.NewBuilder(BuildParams{Proposer: testFeeAddr})
	for _, tx := range txs {
		if err := bl.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	t1 := time.Now()
	p := bl.Finish()
	t2 := time.Now()
	if err := w.c.Commit(p); err != nil {
		b.Fatal(err)
	}
	t3 := time.Now()
	ph.apply += t1.Sub(t0)
	ph.finish += t2.Sub(t1)
	ph.commit += t3.Sub(t2)
	// Time the state root again, on its own and off the clock, for the report.
	b.StopTimer()
	defer b.StartTimer()
	start := time.Now()
	base := Lattice{}
	_ = UpdateLattice(&base, p.changes)
	ph.root += time.Since(start)
}

// BenchmarkApplyCommitBlock applies and commits a block of 10,000
// pre-verified transfers among 100,000 accounts, with a synced write to disk.
func BenchmarkApplyCommitBlock(b *testing.B) {
	const txs, accounts = 10_000, 100_000
	w := newBenchWorld(b, b.TempDir(), accounts, txs)
	rng := rand.New(rand.NewPCG(1, 1))
	w.applyCommit(b, w.nextBlockTxs(b, rng, txs, accounts), &phases{}) // warm the cache
	var ph phases
	for b.Loop() {
		b.StopTimer()
		block := w.nextBlockTxs(b, rng, txs, accounts)
		b.StartTimer()
		w.applyCommit(b, block, &ph)
	}
	b.ReportMetric(float64(txs)*float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	ph.report(b)
}

// BenchmarkStateSize applies the same kind of block (10,000 transfers among
// the first 10,000 accounts) to states of 10,000 and 1,000,000 accounts:
// the cost must follow the touched accounts, not the state size.
func BenchmarkStateSize(b *testing.B) {
	for _, accounts := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			const txs = 10_000
			w := newBenchWorld(b, b.TempDir(), accounts, txs)
			rng := rand.New(rand.NewPCG(2, 2))
			w.applyCommit(b, w.nextBlockTxs(b, rng, txs, txs), &phases{})
			var ph phases
			for b.Loop() {
				b.StopTimer()
				block := w.nextBlockTxs(b, rng, txs, txs)
				b.StartTimer()
				w.applyCommit(b, block, &ph)
			}
			ph.report(b)
		})
	}
}

// BenchmarkDecodeTx decodes a signed EIP-1559 transfer, checks the
// stateless rules and recovers its sender: the cost paid once per
// transaction at the door.
func BenchmarkDecodeTx(b *testing.B) {
	rules := testGenesis().Rules()
	raw := rawTx(b, testKey(b, 0), txSpec{typ: types.DynamicFeeTxType})
	for b.Loop() {
		if _, err := rules.DecodeTx(raw); err != nil {
			b.Fatal(err)
		}
	}
}
