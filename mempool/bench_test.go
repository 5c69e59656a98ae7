package mempool

import (
	"math/big"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
)

// benchSet is a chain with many funded senders and their signed transfers.
type benchSet struct {
	tc   *testChain
	raws [][]byte    // signed transfers, one per sender unless perSender > 1
	txs  []*chain.Tx // the same, parsed and sender-recovered
}

var (
	benchOnce sync.Once
	bench100k *benchSet
)

// makeBenchSet signs perSender transfers for each of senders keys, on all
// cores, with effective prices spread over a range.
func makeBenchSet(b *testing.B, senders, perSender int) *benchSet {
	b.Helper()
	keys := make([]*KeyT, senders)
	parallelFor(senders, func(i int) { keys[i] = key(b, 5_000_000+i) })
	tc := newTestChain(b, keys, oneEther, func(g *chain.Genesis) {
		g.Limits.BlockMaxTxs = 10_000
		g.Limits.BlockGasLimit = 10_000 * chain.TransferGas
	})
	set := &benchSet{tc: tc, raws: make([][]byte, senders*perSender), txs: make([]*chain.Tx, senders*perSender)}
	rules := tc.c.Rules()
	id := big.NewInt(testChainID)
	signer := types.NewLondonSigner(id)
	to := chain.Address{0x70}
	parallelFor(senders, func(i int) {
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		for n := range perSender {
			tip := big.NewInt(int64(1e9 + rng.IntN(1000)*1e7))
			tx := types.NewTx(&types.DynamicFeeTx{ChainID: id, Nonce: uint64(n), GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, big.NewInt(2e9)), Gas: chain.TransferGas, To: &to, Value: big.NewInt(1)})
			signed, err := types.SignTx(tx, signer, keys[i])
			if err != nil {
				panic(err)
			}
			raw, _ := signed.MarshalBinary()
			vt, err := rules.NewVerifiedTx(signed, addr(keys[i]))
			if err != nil {
				panic(err)
			}
			set.raws[i*perSender+n], set.txs[i*perSender+n] = raw, vt
		}
	})
	return set
}

// parallelFor runs fn(0..n-1) on all cores, handing out work in chunks so
// that the harness itself does not contend.
func parallelFor(n int, fn func(i int)) {
	const chunk = 256
	var wg sync.WaitGroup
	var next atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}

func getBench100k(b *testing.B) *benchSet {
	benchOnce.Do(func() { bench100k = makeBenchSet(b, 100_000, 1) })
	return bench100k
}

// drainAll removes every transaction from p the way a committed block does,
// telling the pool each sender's nonce moved past them. The pool's maps keep
// their capacity, as in a node whose pool cycles transactions all day.
func drainAll(p *Pool, txs []*chain.Tx) {
	changes := make([]chain.AccountChange, 0, len(txs))
	seen := map[chain.Address]uint64{}
	for _, tx := range txs {
		seen[tx.From] = max(seen[tx.From], tx.Nonce+1)
	}
	for a, n := range seen {
		changes = append(changes, chain.AccountChange{Addr: a, After: chain.Account{Nonce: n, Balance: *oneEther}})
	}
	p.Committed(changes)
}

// admitBench admits set.txs with admit, on all cores, once per iteration,
// and reports transactions per second and the process's CPU time per
// transaction (cpu-ns/tx, which a busy machine disturbs far less). A warm
// pool is drained and reused (its maps keep their size, as in a running
// node); otherwise each iteration starts from a new, empty pool.
func admitBench(b *testing.B, set *benchSet, warm bool, admit func(p *Pool, lo, hi int)) {
	const chunk = 256
	p := newPool(b, set.tc, DefaultConfig(), nil)
	if warm {
		admit(p, 0, len(set.txs)) // size the maps
	}
	var total, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		if warm {
			drainAll(p, set.txs)
		} else {
			p = newPool(b, set.tc, DefaultConfig(), nil)
		}
		if p.Len() != 0 {
			b.Fatalf("drain left %d", p.Len())
		}
		runtime.GC()
		b.StartTimer()
		start, startCPU := time.Now(), cpuTime()
		parallelFor((len(set.txs)+chunk-1)/chunk, func(i int) { admit(p, i*chunk, min((i+1)*chunk, len(set.txs))) })
		total += time.Since(start)
		cpu += cpuTime() - startCPU
	}
	b.ReportMetric(float64(len(set.txs)*b.N)/total.Seconds(), "tx/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(set.txs)*b.N), "cpu-ns/tx")
}

// BenchmarkAdmitVerified admits pre-verified transfers from 100,000
// senders, one AddTx each, on all cores, into a warm pool. Compare
// GOMAXPROCS=1 and 2 (see scripts/mempool-scaling.sh) to see what sharding
// buys.
func BenchmarkAdmitVerified(b *testing.B) {
	set := getBench100k(b)
	admitBench(b, set, true, addEach(set))
}

// BenchmarkAdmitVerifiedFresh is BenchmarkAdmitVerified into a new pool
// each time, so that map growth is part of the cost.
func BenchmarkAdmitVerifiedFresh(b *testing.B) {
	set := getBench100k(b)
	admitBench(b, set, false, addEach(set))
}

func addEach(set *benchSet) func(p *Pool, lo, hi int) {
	return func(p *Pool, lo, hi int) {
		for _, tx := range set.txs[lo:hi] {
			if err := p.AddTx(tx); err != nil {
				panic(err)
			}
		}
	}
}

// BenchmarkAdmitVerifiedBatch admits the same transfers in batches of 256
// (as gossip or a batched RPC request delivers them) with AddTxs.
func BenchmarkAdmitVerifiedBatch(b *testing.B) {
	set := getBench100k(b)
	admitBench(b, set, true, func(p *Pool, lo, hi int) {
		for _, err := range p.AddTxs(set.txs[lo:hi]) {
			if err != nil {
				panic(err)
			}
		}
	})
}

// BenchmarkShardedMapBaseline is the least an admission into a shared,
// sharded structure can do: lock the sender's shard (one of 16) and insert
// a fresh entry under the sender's address, for the same 100,000 senders
// and on the same cores. It measures how far such work scales on the
// machine at hand, as a baseline for BenchmarkAdmitVerified.
func BenchmarkShardedMapBaseline(b *testing.B) {
	set := getBench100k(b)
	type bshard struct {
		mu sync.Mutex
		m  map[chain.Address]*entry
		_  [40]byte
	}
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		shards := make([]bshard, 16)
		for i := range shards {
			shards[i].m = make(map[chain.Address]*entry)
		}
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		parallelFor(len(set.txs), func(i int) {
			tx := set.txs[i]
			sh := &shards[int(tx.From[0])%16]
			sh.mu.Lock()
			sh.m[tx.From] = &entry{tx: tx}
			sh.mu.Unlock()
		})
		total += time.Since(start)
	}
	b.ReportMetric(float64(len(set.txs)*b.N)/total.Seconds(), "tx/s")
}

// BenchmarkAdmitRaw admits raw signed transfers, recovering every sender,
// on all cores.
func BenchmarkAdmitRaw(b *testing.B) {
	set := getBench100k(b)
	const n = 20_000
	var total, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		p := newPool(b, set.tc, DefaultConfig(), nil)
		b.StartTimer()
		start, startCPU := time.Now(), cpuTime()
		parallelFor(n, func(i int) {
			if _, err := p.Add(set.raws[i]); err != nil {
				panic(err)
			}
		})
		total += time.Since(start)
		cpu += cpuTime() - startCPU
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "tx/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/tx")
}

// BenchmarkFill selects a block of 10,000 transfers from a pool of 100,000
// (25,000 senders with 4 nonces each), including the builder's state
// checks.
func BenchmarkFill(b *testing.B) {
	set := makeBenchSet(b, 25_000, 4)
	p := newPool(b, set.tc, DefaultConfig(), nil)
	for _, tx := range set.txs {
		if err := p.AddTx(tx); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		bl := set.tc.c.NewBuilder(chain.BuildParams{Proposer: feeAddr})
		b.StartTimer()
		if n := p.Fill(bl); n != 10_000 {
			b.Fatalf("selected %d", n)
		}
	}
}

// BenchmarkPoolMemory measures the heap a pooled transaction costs beyond
// its raw encoding, admitting 100,000 raw transfers through the full path.
func BenchmarkPoolMemory(b *testing.B) {
	set := getBench100k(b)
	var raw uint64
	for _, r := range set.raws {
		raw += uint64(len(r))
	}
	for b.Loop() {
		b.StopTimer()
		p := newPool(b, set.tc, DefaultConfig(), nil)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		parallelFor(len(set.raws), func(i int) {
			// Copy the encoding: the pool keeps what it is given.
			if _, err := p.Add(append([]byte(nil), set.raws[i]...)); err != nil {
				panic(err)
			}
		})
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if p.Len() != len(set.raws) {
			b.Fatalf("pool holds %d", p.Len())
		}
		per := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(set.raws))
		b.ReportMetric(per, "heap-B/tx")
		b.ReportMetric(per-float64(raw)/float64(len(set.raws)), "overhead-B/tx")
		b.ReportMetric(float64(raw)/float64(len(set.raws)), "raw-B/tx")
		runtime.KeepAlive(p)
		b.StartTimer()
	}
}

// BenchmarkEvictDemotesLongRun evicts the lowest pending transaction of a
// sender with 1,024 pending ones: the other 1,023 are demoted to queued and
// trimmed to the sender's queue limit (64), highest nonces first, under the
// shard lock. It measures that one admission.
func BenchmarkEvictDemotesLongRun(b *testing.B) {
	k, other := key(b, 1), key(b, 2)
	tc := newTestChain(b, []*KeyT{k, other}, oneEther)
	rules := tc.c.Rules()
	verified := func(k *KeyT, s spec) *chain.Tx {
		tx, err := rules.DecodeTx(raw(b, k, s))
		if err != nil {
			b.Fatal(err)
		}
		return tx
	}
	cfg := DefaultConfig()
	cfg.MaxTxs, cfg.ShardShare = cfg.MaxPendingPerSender, float64(cfg.Shards)
	run := []*chain.Tx{verified(k, spec{nonce: 0, feeCap: 2e9, tip: 1e9})}
	for n := uint64(1); n < uint64(cfg.MaxPendingPerSender); n++ {
		run = append(run, verified(k, spec{nonce: n, feeCap: 9e9, tip: 9e9}))
	}
	dear := verified(other, spec{nonce: 0, feeCap: 5e9, tip: 5e9})
	for b.Loop() {
		b.StopTimer()
		p := newPool(b, tc, cfg, nil)
		for _, tx := range run {
			if err := p.AddTx(tx); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := p.AddTx(dear); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if p.Len() != cfg.MaxQueuedPerSender+1 {
			b.Fatalf("pool holds %d", p.Len())
		}
		b.StartTimer()
	}
}
