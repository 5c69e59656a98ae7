package mempool

import (
	"github.com/bizra/node0/chain"
)

// Committed updates the pool after a block commits. changes are the
// block's account changes (chain.Pending.Changes): for every sender the
// pool holds, transactions below the new nonce leave (included or stale),
// and if the new balance no longer pays for all the sender's remaining
// transactions at once, the highest nonces leave until it does; then queued
// transactions that now follow the pending ones are promoted. Accounts the
// block did not touch are not looked at. Every call also starts a new count
// of each sender's replacements (MaxReplacementsPerSender).
func (p *Pool) Committed(changes []chain.AccountChange) {
	p.blocks.Add(1)
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
			a.subCost(e)
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
				a.subCost(e)
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
	a.balance = st.Balance
	// What the balance can no longer pay for, highest nonces first: the
	// queued ones (all above the pending run), then the pending run from
	// its end, which demotes nothing.
	if a.cost.Gt(&a.balance) {
		for _, e := range highestQueued(a, len(a.queued)) {
			if !a.cost.Gt(&a.balance) {
				break
			}
			p.dropLocked(sh, e)
			sh.stats.evicted.Add(1)
		}
		for len(a.pending) > 0 && a.cost.Gt(&a.balance) {
			p.dropLocked(sh, a.pending[len(a.pending)-1])
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
