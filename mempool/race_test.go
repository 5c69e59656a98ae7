package mempool

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

// checkInvariants verifies the pool's structure: every entry is in exactly
// the list, heap and index it should be, pending runs are contiguous, and
// the counters agree with the contents.
func (p *Pool) checkInvariants(t *testing.T) {
	t.Helper()
	p.checkStructure(t)
	for _, sh := range p.shards {
		sh.mu.Lock()
		for addr, a := range sh.accounts {
			if st, err := p.state.Account(addr); err == nil && (st.Nonce != a.nonce || st.Balance != a.balance) {
				t.Errorf("sender %s: pool nonce %d balance %s, state nonce %d balance %s", addr, a.nonce, a.balance.Dec(), st.Nonce, st.Balance.Dec())
			}
			if a.cost.Gt(&a.balance) {
				t.Errorf("sender %s: pooled transactions cost %s, balance %s", addr, a.cost.Dec(), a.balance.Dec())
			}
		}
		sh.mu.Unlock()
	}
}

// checkStructure verifies everything but agreement with the state, which
// only holds when no block is being committed.
func (p *Pool) checkStructure(t *testing.T) {
	t.Helper()
	total, totalBytes := 0, int64(0)
	for si, sh := range p.shards {
		sh.mu.Lock()
		n, b, nq := 0, int64(0), 0
		for addr, a := range sh.accounts {
			if p.ShardOf(addr) != si {
				t.Errorf("sender %s in shard %d, belongs in %d", addr, si, p.ShardOf(addr))
			}
			if len(a.pending) == 0 && len(a.queued) == 0 {
				t.Errorf("empty account %s kept", addr)
			}
			if len(a.pending) > p.cfg.MaxPendingPerSender || len(a.queued) > p.cfg.MaxQueuedPerSender {
				t.Errorf("sender %s over its limits: %d pending, %d queued", addr, len(a.pending), len(a.queued))
			}
			var cost uint256.Int
			for _, e := range a.pending {
				c := maxCost(e.tx)
				cost.Add(&cost, &c)
			}
			for _, e := range a.queued {
				c := maxCost(e.tx)
				cost.Add(&cost, &c)
			}
			if cost != a.cost {
				t.Errorf("sender %s: running cost %s, its transactions cost %s", addr, a.cost.Dec(), cost.Dec())
			}
			for i, e := range a.pending {
				if e.tx.Nonce != a.nonce+uint64(i) || e.queued || e.heapIdx < 0 || sh.pendingH[e.heapIdx].e != e {
					t.Errorf("pending entry %d of %s misplaced", i, addr)
				}
				if p.known.get(e.tx.Hash) != e {
					t.Errorf("pending entry %s not indexed", e.tx.Hash)
				}
				n++
				b += int64(e.tx.Size())
			}
			for nonce, e := range a.queued {
				if e.tx.Nonce != nonce || !e.queued || nonce < a.nonce+uint64(len(a.pending)) || e.heapIdx < 0 || sh.queuedH[e.heapIdx].e != e {
					t.Errorf("queued entry %d of %s misplaced", nonce, addr)
				}
				if p.known.get(e.tx.Hash) != e {
					t.Errorf("queued entry %s not indexed", e.tx.Hash)
				}
				n++
				nq++
				b += int64(e.tx.Size())
			}
		}
		if n != sh.count || b != sh.bytes || n != len(sh.pendingH)+len(sh.queuedH) || nq != len(sh.queuedH) {
			t.Errorf("shard %d: counted %d/%d bytes, fields %d/%d, heaps %d+%d", si, n, b, sh.count, sh.bytes, len(sh.pendingH), len(sh.queuedH))
		}
		total += n
		totalBytes += b
		sh.mu.Unlock()
	}
	indexed := 0
	for i := range p.known.stripes {
		s := &p.known.stripes[i]
		s.mu.Lock()
		for _, head := range s.m {
			for c := head; c != nil; c = c.nextKnown {
				indexed++
			}
		}
		s.mu.Unlock()
	}
	if indexed != total || p.Len() != total || p.Bytes() != totalBytes {
		t.Errorf("index holds %d, shards %d, Len %d; bytes %d vs %d", indexed, total, p.Len(), totalBytes, p.Bytes())
	}
}

// TestConcurrentAdmissionSelectionCommit runs admissions from many
// goroutines (some racing on the same transactions), block production and
// commits, expiry and reads at once, then checks the structure. Run it with
// -race.
func TestConcurrentAdmissionSelectionCommit(t *testing.T) {
	var keys []*KeyT
	for i := range 48 {
		keys = append(keys, key(t, 300+i))
	}
	tc := newTestChain(t, keys, oneEther, func(g *chain.Genesis) { g.Limits.BlockMaxTxs = 40 })
	cfg := DefaultConfig()
	cfg.Shards, cfg.MaxTxs, cfg.MaxPendingPerSender, cfg.MaxQueuedPerSender = 8, 400, 16, 8
	now := &fakeNow{t: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	p := newPool(t, tc, cfg, now)

	// Pre-sign so that the race is between pool operations, not signing.
	var raws [][]byte
	for i, k := range keys {
		for n := range uint64(12) {
			raws = append(raws, raw(t, k, spec{nonce: n, tip: uint64(1+(i+int(n))%5) * 1e9, feeCap: 9e9}))
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var admitted, refused atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 3000 && !stop.Load(); i++ {
				if rng.IntN(4) == 0 {
					var txs []*chain.Tx
					for range 8 {
						if tx, err := tc.c.Rules().ParseTx(raws[rng.IntN(len(raws))]); err == nil {
							txs = append(txs, tx)
						}
					}
					for _, err := range p.AddTxs(txs) {
						count(err, &admitted, &refused, t)
					}
					continue
				}
				_, err := p.Add(raws[rng.IntN(len(raws))])
				count(err, &admitted, &refused, t)
			}
		}()
	}
	wg.Add(1)
	go func() { // the block producer
		defer wg.Done()
		for i := 0; i < 60; i++ {
			b := tc.c.NewBuilder(chain.BuildParams{Proposer: feeAddr})
			p.Fill(b)
			pend := b.Finish()
			if err := tc.c.Commit(pend); err != nil {
				t.Error(err)
				return
			}
			p.Committed(pend.Changes())
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
	}()
	wg.Add(1)
	go func() { // readers and the clock
		defer wg.Done()
		for !stop.Load() {
			now.Advance(time.Second)
			p.Expire()
			_ = p.Stats()
			if tx, ok := p.Get(chain.Keccak256(raws[0])); ok && tx.From != addr(keys[0]) {
				t.Error("Get returned a transaction with the wrong sender")
			}
			p.PendingNonce(addr(keys[1]))
			time.Sleep(100 * time.Microsecond)
		}
	}()
	wg.Wait()
	p.checkInvariants(t)
	if admitted.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("admitted %d, refused %d: the test did not exercise both paths", admitted.Load(), refused.Load())
	}
	// Whatever remains must still be selectable and consistent with the state.
	commitFill(t, tc, p)
	p.checkInvariants(t)
}

func count(err error, ok, refused *atomic.Int64, t *testing.T) {
	if err == nil {
		ok.Add(1)
		return
	}
	refused.Add(1)
	if reasonOf(err) == len(reasons) && !errors.Is(err, chain.ErrTxDecode) {
		t.Errorf("unknown rejection: %v", err)
	}
}
