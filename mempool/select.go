package mempool

import (
	"errors"

	"github.com/bizra/node0/chain"
)

// cursor walks one sender's pending transactions in nonce order.
type cursor struct {
	txs []*entry
	pos int
}

func (c *cursor) head() *entry { return c.txs[c.pos] }

// better orders selection: higher price first, then earlier arrival.
func better(a, b *entry) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.arrived != b.arrived {
		return a.arrived < b.arrived
	}
	return a.seq < b.seq
}

// selectHeap is a max-heap of cursors by their head transaction.
type selectHeap []*cursor

func (h selectHeap) less(i, j int) bool { return better(h[i].head(), h[j].head()) }

func (h selectHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
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
	// Snapshot each sender's pending transactions, at most what fits.
	buf := make([]*entry, 0, min(p.Len(), 1<<20))
	var h selectHeap
	for _, sh := range p.shards {
		sh.mu.Lock()
		for _, a := range sh.accounts {
			if len(a.pending) == 0 {
				continue
			}
			n := min(len(a.pending), limit)
			start := len(buf)
			buf = append(buf, a.pending[:n]...)
			h = append(h, &cursor{txs: buf[start : start+n : start+n]})
		}
		sh.mu.Unlock()
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	added := 0
	for len(h) > 0 {
		c := h[0]
		err := b.Add(c.head().tx)
		switch {
		case err == nil:
			added++
			c.pos++
			if c.pos < len(c.txs) {
				h.down(0)
				continue
			}
		case errors.Is(err, chain.ErrBlockFull):
			return added
		}
		// Sender exhausted or rejected: drop its cursor.
		last := len(h) - 1
		h[0] = h[last]
		h[last] = nil
		h = h[:last]
		h.down(0)
	}
	return added
}
