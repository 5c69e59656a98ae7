package node

import (
	"errors"
	"sync"

	"github.com/bizra/node0/chain"
)

// TxSource is what block production takes transactions from. The interim
// txQueue implements it until the sharded mempool replaces it.
type TxSource interface {
	// Add admits a transaction whose sender has been recovered.
	Add(tx *chain.Tx) error
	// Fill adds transactions to b until the block is full or the source is
	// exhausted; it drops those the state rejects for good.
	Fill(b *chain.Builder)
	// Committed removes the transactions of a committed block.
	Committed(p *chain.Pending)
	// Len returns the number of waiting transactions.
	Len() int
}

// txQueue is a bounded first-in first-out queue of verified transactions.
// It is the interim stand-in for the mempool: no ordering by price, no
// replacement, no per-sender limits.
type txQueue struct {
	mu    sync.Mutex
	max   int
	txs   []*chain.Tx
	known map[chain.Hash]bool
}

func newTxQueue(max int) *txQueue {
	return &txQueue{max: max, known: make(map[chain.Hash]bool)}
}

func (q *txQueue) Add(tx *chain.Tx) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.known[tx.Hash] {
		return ErrKnownTx
	}
	if len(q.txs) >= q.max {
		return ErrPoolFull
	}
	q.txs = append(q.txs, tx)
	q.known[tx.Hash] = true
	return nil
}

func (q *txQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.txs)
}

// Fill offers queued transactions in arrival order. A transaction with a
// nonce gap stays queued; one the state rejects for good (nonce too low,
// unaffordable) is dropped.
func (q *txQueue) Fill(b *chain.Builder) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.txs[:0]
	full := false
	for _, tx := range q.txs {
		if full {
			kept = append(kept, tx)
			continue
		}
		err := b.Add(tx)
		switch {
		case err == nil, errors.Is(err, chain.ErrNonceTooHigh):
			kept = append(kept, tx) // included ones leave on Committed
		case errors.Is(err, chain.ErrBlockFull):
			full = true
			kept = append(kept, tx)
		default:
			delete(q.known, tx.Hash)
		}
	}
	clear(q.txs[len(kept):])
	q.txs = kept
}

func (q *txQueue) Committed(p *chain.Pending) {
	if len(p.Txs) == 0 {
		return
	}
	done := make(map[chain.Hash]bool, len(p.Txs))
	for _, tx := range p.Txs {
		done[tx.Hash] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.txs[:0]
	for _, tx := range q.txs {
		if done[tx.Hash] {
			delete(q.known, tx.Hash)
			continue
		}
		kept = append(kept, tx)
	}
	clear(q.txs[len(kept):])
	q.txs = kept
}
