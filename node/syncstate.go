package node

import "sync"

// SyncState is whether the node is catching up with its peers: the one
// rule every consumer uses (eth_syncing, bizra_status, readiness). The
// node is syncing while its head is more than ready_max_lag blocks behind
// the best height its peers report (Config.CaughtUp).
type SyncState struct {
	Syncing bool
	// Starting is the head when this stretch of syncing began (while
	// syncing), Current the head, Highest the best of the head and the
	// heights the peers report.
	Starting, Current, Highest uint64
}

// syncTracker applies the rule and remembers where a stretch of syncing
// began.
type syncTracker struct {
	caughtUp func(head, best uint64) bool
	head     func() uint64
	best     func() uint64 // the best height peers report; 0 without peers

	mu       sync.Mutex
	syncing  bool
	starting uint64
}

func (t *syncTracker) state() SyncState {
	head, best := t.head(), t.best()
	st := SyncState{Current: head, Highest: max(head, best)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.caughtUp(head, best) {
		t.syncing = false
		return st
	}
	if !t.syncing {
		t.syncing, t.starting = true, head
	}
	st.Syncing, st.Starting = true, t.starting
	return st
}

// SyncState reports whether the node is catching up with its peers.
func (n *Node) SyncState() SyncState { return n.sync.state() }
