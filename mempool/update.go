package mempool

import (
	"github.com/bizra/node0/chain"
)

// Committed updates the pool after a block commits. changes are the
// block's account changes (chain.Pending.Changes): for every sender the
// pool holds, transactions below the new nonce leave (included or stale),
// transactions the new balance cannot pay leave, and queued transactions
// that now follow the pending ones are promoted. Accounts the block did not
// touch are not looked at.
func (p *Pool) Committed(changes []chain.AccountChange) {
	byShard := make(map[*shard][]*chain.AccountChange)
	for i := range changes {
		c := &changes[i]
		sh := p.shards[p.ShardOf(c.Addr)]
		byShard[sh] = append(byShard[sh], c)
	}
	for sh, cs := range byShard {
		sh.mu.Lock()
		for _, c := range cs {
			if a := sh.accounts[c.Addr]; a != nil {
				p.resetLocked(sh, a, c.Addr, c.After)
			}
		}
		sh.mu.Unlock()
	}
}

// resetLocked brings one sender's lists in line with its committed state.
func (p *Pool) resetLocked(sh *shard, a *account, addr chain.Address, st chain.Account) {
	if st.Nonce > a.nonce {
		// Pending transactions below the new nonce were included (or
		// replaced by other transactions with those nonces): they leave
		// without demoting anything.
		k := min(st.Nonce-a.nonce, uint64(len(a.pending)))
		for _, e := range a.pending[:k] {
			sh.pendingH.remove(e)
			p.forget(e)
			p.addCount(sh, -1)
			p.addBytes(sh, -int64(e.tx.Size()))
			sh.stats.incldd.Add(1)
		}
		clear(a.pending[:k])
		a.pending = a.pending[k:]
		for n, e := range a.queued {
			if n < st.Nonce {
				delete(a.queued, n)
				sh.queuedH.remove(e)
				p.forget(e)
				p.addCount(sh, -1)
				p.addBytes(sh, -int64(e.tx.Size()))
				sh.stats.incldd.Add(1)
			}
		}
		a.nonce = st.Nonce
		if len(a.pending) == 0 {
			a.pending = nil // let the old backing array go
		}
	}
	// Transactions the balance can no longer pay. Dropping a pending one
	// demotes the ones after it.
	for i := 0; i < len(a.pending); i++ {
		if !affordable(a.pending[i].tx, &st) {
			p.dropLocked(sh, a.pending[i])
			sh.stats.evicted.Add(1)
			break
		}
	}
	for _, e := range a.queued {
		if !affordable(e.tx, &st) {
			p.dropLocked(sh, e)
			sh.stats.evicted.Add(1)
		}
	}
	if sh.accounts[addr] == nil {
		return
	}
	p.promoteLocked(sh, a)
	if len(a.pending) == 0 && len(a.queued) == 0 {
		delete(sh.accounts, addr)
	}
	sh.stats.queued.Store(int64(len(sh.queuedH)))
}

func affordable(tx *chain.Tx, st *chain.Account) bool {
	cost, overflow := tx.MaxCost()
	return !overflow && !st.Balance.Lt(&cost)
}

// Expire drops queued transactions that have waited longer than the queue
// lifetime and returns how many went.
func (p *Pool) Expire() int {
	cutoff := p.sinceEpoch() - int64(p.cfg.QueueLifetime)
	total := 0
	for _, sh := range p.shards {
		sh.mu.Lock()
		var old []*entry
		for _, it := range sh.queuedH {
			if it.e.arrived < cutoff {
				old = append(old, it.e)
			}
		}
		for _, e := range old {
			if e.heapIdx >= 0 { // not dropped with an earlier one
				p.dropLocked(sh, e)
				sh.stats.expired.Add(1)
				total++
			}
		}
		sh.mu.Unlock()
	}
	return total
}
