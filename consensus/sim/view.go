package sim

import "github.com/bizra/node0/consensus"

// View is what probes see of a running simulation.
type View struct{ s *simulation }

// Now returns the current tick.
func (v *View) Now() uint64 { return v.s.now }

// Height returns the number of blocks validator i has committed.
func (v *View) Height(i int) uint64 { return v.s.nodes[i].height() }

// Crashed reports whether validator i is down.
func (v *View) Crashed(i int) bool { return v.s.nodes[i].crashed }

// Round returns the round validator i's (first) machine is in.
func (v *View) Round(i int) (uint64, bool) {
	d := v.s.nodes[i].driver(0)
	if d == nil {
		return 0, false
	}
	return d.Round(), true
}

// Locked returns the round and block validator i is locked on at its
// current height, by its last persisted State; round is NoRound when it
// is not locked.
func (v *View) Locked(i int) (round uint64, block consensus.Hash) {
	n := v.s.nodes[i]
	if st := n.persisted; st != nil && st.Height == n.height() {
		return st.LockedRound, st.LockedBlock
	}
	return consensus.NoRound, consensus.Hash{}
}

// Block returns the block validator i committed at height h.
func (v *View) Block(i int, h uint64) (consensus.Hash, bool) {
	n := v.s.nodes[i]
	if h >= n.height() {
		return consensus.Hash{}, false
	}
	return n.log()[h].block, true
}
