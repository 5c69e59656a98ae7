package mempool

import (
	"errors"
	"sync"

	"github.com/bizra/node0/chain"
)

// cursor walks one sender's pending transactions in nonce order.
type cursor struct {
	txs []*entry
	pos int
}

// slot is a selection heap element: the ordering key of a cursor's head,
// held in the heap's own array so that sifting follows no pointers.
type slot struct {
	prio    uint64
	arrived int64
	seq     uint64
	cur     int32 // index into the cursors
}

func slotOf(e *entry, cur int32) slot {
	return slot{prio: e.prio, arrived: e.arrived, seq: e.seq, cur: cur}
}

// better orders selection: higher price first, then earlier arrival.
func (a *slot) better(b *slot) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.arrived != b.arrived {
		return a.arrived < b.arrived
	}
	return a.seq < b.seq
}

// selectHeap is a max-heap of slots.
type selectHeap []slot

func (h selectHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].better(&h[l]) {
			m = r
		}
		if !h[m].better(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// snapshot copies each sender's pending transactions, at most limit each,
// from the given shards.
func (p *Pool) snapshot(shards []*shard, limit int) []cursor {
	var cursors []cursor
	for _, sh := range shards {
		sh.mu.Lock()
		buf := make([]*entry, 0, len(sh.pendingH))
		for _, a := range sh.accounts {
			if len(a.pending) == 0 {
				continue
			}
			n := min(len(a.pending), limit)
			start := len(buf)
			buf = append(buf, a.pending[:n]...)
			cursors = append(cursors, cursor{txs: buf[start : start+n : start+n]})
		}
		sh.mu.Unlock()
	}
	return cursors
}

// Fill offers pending transactions to b, best first, until the block is
// full or nothing executable is left, and returns how many b accepted. A
// transaction the block's state rejects is skipped together with the rest
// of its sender's transactions. The pool is not changed: included
// transactions leave when the block is committed (Committed).
func (p *Pool) Fill(b *chain.Builder) int {
	limit := b.Remaining()
	if limit == 0 {
		return 0
	}
	// Snapshot the shards in two halves at once.
	var other []cursor
	half := len(p.shards) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		other = p.snapshot(p.shards[half:], limit)
	}()
	cursors := p.snapshot(p.shards[:half], limit)
	wg.Wait()
	cursors = append(cursors, other...)

	h := make(selectHeap, len(cursors))
	for i := range cursors {
		h[i] = slotOf(cursors[i].txs[0], int32(i))
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	added := 0
	for len(h) > 0 {
		c := &cursors[h[0].cur]
		err := b.Add(c.txs[c.pos].tx)
		switch {
		case err == nil:
			added++
			c.pos++
			if c.pos < len(c.txs) {
				h[0] = slotOf(c.txs[c.pos], h[0].cur)
				h.down(0)
				continue
			}
		case errors.Is(err, chain.ErrBlockFull):
			return added
		}
		// Sender exhausted or rejected: drop its cursor.
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		h.down(0)
	}
	return added
}
