package mempool

import (
	"sync/atomic"

	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

// entry is one pooled transaction.
type entry struct {
	tx      *chain.Tx
	prio    uint64 // effective gas price in wei, saturated at 2^64-1
	arrived int64  // nanoseconds since the pool started: ties go to the earlier
	seq     uint64 // per-shard admission counter << 8 | shard: ties within a nanosecond
	heapIdx int    // position in its shard's pending or queued heap; -1 once gone
	queued  bool

	nextKnown *entry      // next entry with the same knownIndex key
	live      atomic.Bool // admitted and not yet removed

	// Set under the shard lock.
	mayDisplacePending bool // as the entry entered: may it displace pending ones
	replacement        bool // it replaced another with its nonce
	evicted            bool // it left the pool to make room (not by commit)
}

// priority returns the ordering key of an effective gas price: the price in
// wei, with prices of 2^64 wei (18.4 ether per gas) and above treated as
// equal, so that ordering needs no 256-bit arithmetic.
func priority(price *uint256.Int) uint64 {
	if !price.IsUint64() {
		return ^uint64(0)
	}
	return price.Uint64()
}

// cheaper orders entries for eviction: lower price first, and among equal
// prices the later arrival first.
func cheaper(a, b *entry) bool {
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if a.arrived != b.arrived {
		return a.arrived > b.arrived
	}
	return a.seq > b.seq
}

// heapItem holds the ordering key beside the entry, so that sifting compares
// within the heap's own array.
type heapItem struct {
	prio    uint64
	arrived int64
	seq     uint64
	e       *entry
}

func (a *heapItem) cheaper(b *heapItem) bool {
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if a.arrived != b.arrived {
		return a.arrived > b.arrived
	}
	return a.seq > b.seq
}

// evictHeap is a min-heap of entries by cheaper, with positions kept in
// entry.heapIdx so that any entry can be removed in O(log n).
type evictHeap []heapItem

func (h *evictHeap) push(e *entry) {
	e.heapIdx = len(*h)
	*h = append(*h, heapItem{prio: e.prio, arrived: e.arrived, seq: e.seq, e: e})
	h.up(e.heapIdx)
}

func (h *evictHeap) remove(e *entry) {
	s := *h
	i := e.heapIdx
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		s[i].e.heapIdx = i
	}
	s[last] = heapItem{}
	*h = s[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	e.heapIdx = -1
}

func (h evictHeap) min() *entry {
	if len(h) == 0 {
		return nil
	}
	return h[0].e
}

func (h evictHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].cheaper(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		h[i].e.heapIdx, h[p].e.heapIdx = i, p
		i = p
	}
}

func (h evictHeap) down(i int) bool {
	start := i
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].cheaper(&h[l]) {
			m = r
		}
		if !h[m].cheaper(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		h[i].e.heapIdx, h[m].e.heapIdx = i, m
		i = m
	}
	return i > start
}
