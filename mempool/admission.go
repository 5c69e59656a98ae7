package mempool

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission is the door of the pool for transactions that clients send:
// before a transaction is decoded, it decides whether the node takes one
// more now. Its bound follows what the chain commits, so that the pool
// never holds more than the next block or two can take and blocks keep
// their interval under any offered load; what does not fit is refused at
// once, with a hint of when to try again, instead of waiting in a pool the
// chain cannot drain.
//
// The bound is the capacity: how many transactions a block takes while
// blocks keep the chain's block time. It is estimated from the blocks this
// node commits, their sizes and commit latencies (from the block's
// timestamp, the slot its leader proposed it for, to this node's commit):
//
//   - a block committed more than the block time after its slot, holding
//     at least half the capacity, leaves the next block no time to be
//     proposed in its slot: the chain took more than it can check in time,
//     and the capacity falls by a quarter;
//   - one committed more than 70 % of the block time after its slot,
//     holding at least half the capacity, is close to that: a tenth off;
//   - one committed within half the block time holding at least 90 % of
//     the capacity shows demand at the bound and room to take it: the
//     capacity grows by 10 % (at least MinBlockTxs / 4);
//   - a block that came late because a leader was down (a later round,
//     then committed promptly) changes nothing, nor do blocks committed
//     much faster than the block time or more than three block times
//     after their slot (this node catching up).
//
// At start, the store's last blocks are replayed (Replay) with the rules
// their timestamps allow, so that a restarted node starts near the
// capacity the others have.
//
// The capacity starts at 2,000 transactions a second's worth (at most a
// quarter of the genesis block limit) and stays between MinBlockTxs and
// that limit. The proposer builds blocks of at most the capacity and a
// quarter (BlockTxs, for what several doors admit at once), and the
// door admits while the pool holds fewer pending transactions than
// AdmitBlocks × capacity: a transaction admitted then is in one of the next
// AdmitBlocks + 1 blocks.
//
// Fairness: while the pool is below half the bound anyone is admitted;
// above it, a client that has had its share since the last block (the
// bound over the clients seen since then, or in the block before) is
// refused, so one client flooding takes at most the lower half and its
// share, and the others still get in; a client alone gets the whole bound. Clients are named by the caller (the RPC server uses the remote
// address).
type Admission struct {
	pool      *Pool
	blockTime time.Duration
	maxBlock  int
	minBlock  int
	perBlock  float64 // AdmitBlocks
	now       func() time.Time
	metrics   *AdmissionMetrics

	capacity atomic.Int64 // transactions per block
	nextDue  atomic.Int64 // unix ns when the next block is due, for retry hints

	mu        sync.Mutex
	clients   map[string]int // admissions since the last block, by client
	active    int            // clients seen in the previous block
	lastTS    uint64         // timestamp of the last block seen, unix ms
	lastLocal time.Time      // when Committed saw it; zero after Replay
}

// initialRate is the transactions per second the capacity starts from
// (within the bounds): about what four validators on a small machine take.
const initialRate = 2000

// maxClients bounds the clients counted between two blocks; later ones
// share one count.
const maxClients = 4096

// Refusal reasons: what a client is told, and the reason label of the RPC
// server's bizra_rpc_txpool_full_total, which counts every refusal.
const (
	RefusedCapacity    = "capacity"     // the pool holds what the next blocks take
	RefusedClientShare = "client_share" // this client took its share since the last block
)

// AdmissionMetrics are the door's metrics, in namespace bizra, subsystem
// mempool:
//
//	bizra_mempool_admission_capacity               transactions per block, as estimated
//	bizra_mempool_admission_limit                  pending transactions the door admits below
type AdmissionMetrics struct {
	Capacity prometheus.Gauge
	Limit    prometheus.Gauge
}

// NewAdmissionMetrics creates the door's metrics and registers them with
// reg (nil: unregistered).
func NewAdmissionMetrics(reg prometheus.Registerer) *AdmissionMetrics {
	m := &AdmissionMetrics{
		Capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "admission_capacity",
			Help: "Transactions per block the chain takes while keeping its block time, as estimated from the blocks this node commits; proposals hold at most 1.25 times this many.",
		}),
		Limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "admission_limit",
			Help: "Pending transactions below which the door admits client transactions (admit_blocks × capacity; 0: no bound).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Capacity, m.Limit)
	}
	return m
}

// NewAdmission returns the door of pool for a chain with the given block
// time and per-block transaction limit (the genesis's BlockMaxTxs, or less
// if the gas limit allows fewer transfers). The pool's config gives
// AdmitBlocks (0: the door admits everything and only bounds proposals)
// and MinBlockTxs. now is the clock for retry hints; nil is time.Now.
func NewAdmission(pool *Pool, blockTime time.Duration, maxBlock int, now func() time.Time, m *AdmissionMetrics) *Admission {
	if now == nil {
		now = time.Now
	}
	if m == nil {
		m = NewAdmissionMetrics(nil)
	}
	a := &Admission{
		pool: pool, blockTime: blockTime, maxBlock: max(maxBlock, 1),
		minBlock: min(max(pool.cfg.MinBlockTxs, 1), max(maxBlock, 1)), perBlock: pool.cfg.AdmitBlocks,
		now: now, metrics: m, clients: make(map[string]int),
	}
	a.setCapacity(min(a.maxBlock/4, int(initialRate*blockTime.Seconds())))
	return a
}

func (a *Admission) setCapacity(c int) {
	c = min(max(c, a.minBlock), a.maxBlock)
	a.capacity.Store(int64(c))
	a.metrics.Capacity.Set(float64(c))
	a.metrics.Limit.Set(float64(a.Limit()))
}

// Capacity returns the transactions a block should hold at most.
func (a *Admission) Capacity() int { return int(a.capacity.Load()) }

// BlockTxs returns the most transactions a proposal should hold: the
// capacity and a quarter more, so that what the doors of several nodes
// admitted at once, before each saw the others' admissions by gossip, still
// goes in the next block (within the block limit).
func (a *Admission) BlockTxs() int {
	c := a.Capacity()
	return min(c+c/4, a.maxBlock)
}

// Limit returns the pending transactions below which the door admits; 0
// means it admits everything.
func (a *Admission) Limit() int {
	if a.perBlock <= 0 {
		return 0
	}
	return max(int(float64(a.Capacity())*a.perBlock), 1)
}

// Admit reports whether client may hand in one more transaction now. If
// not, it says why (RefusedCapacity or RefusedClientShare) and when the
// next block is due, a fair time to try again.
func (a *Admission) Admit(client string) (ok bool, reason string, retryAfter time.Duration) {
	limit := int64(a.Limit())
	if limit == 0 {
		return true, "", 0
	}
	pending := int64(a.pool.Pending())
	a.mu.Lock()
	n, seen := a.clients[client]
	if !seen && len(a.clients) >= maxClients {
		client, n = "", a.clients[""]
	}
	switch {
	case pending >= limit:
		reason = RefusedCapacity
	case pending >= limit/2 && int64(n) >= max(limit/int64(max(a.active, len(a.clients), 1)), 1):
		reason = RefusedClientShare
	default:
		a.clients[client] = n + 1
		a.mu.Unlock()
		return true, "", 0
	}
	if !seen {
		a.clients[client] = n // counted as active, with nothing admitted
	}
	a.mu.Unlock()
	return false, reason, a.retryAfter()
}

// retryAfter is the time until the next block is due, at least 100 ms.
func (a *Admission) retryAfter() time.Duration {
	d := time.Duration(a.nextDue.Load() - a.now().UnixNano())
	return max(d, 100*time.Millisecond).Round(10 * time.Millisecond)
}

// Committed adjusts the capacity after a block commits on this node, as it
// commits: its size, its timestamp (unix ms, the slot the leader proposed
// it for) and the round it was decided in. The clock gives its commit
// latency, from the timestamp to now: above the block time, the next
// block cannot be proposed in its slot.
func (a *Admission) Committed(txs int, timestamp, round uint64) {
	now := a.now()
	prevLocal, first := a.startBlock(timestamp, now)
	if first {
		return
	}
	if now.Sub(prevLocal) < a.blockTime/2 {
		// Committed much faster than the chain's rate: this node is
		// catching up, and its timing says nothing about the load.
		return
	}
	c := a.Capacity()
	latency := now.Sub(time.UnixMilli(int64(timestamp)))
	switch {
	case latency > 3*a.blockTime:
		// Committed long after its slot: this node was stopped or cut
		// off and is catching up (the chain itself, overloaded, shows
		// latencies above the block time long before this).
	case latency > a.blockTime && txs >= c/2:
		a.setCapacity(c - c/4)
	case latency > a.blockTime*7/10 && txs >= c/2:
		// In time, but close to the next block's slot: ease off before
		// blocks come late.
		a.setCapacity(c - c/10)
	case latency < a.blockTime*5/10 && txs >= c*9/10:
		a.grow(c)
	}
}

// Replay shows the door a block committed before it started (the store's
// last blocks at start), so that a restarted node begins near the capacity
// the chain showed. Without its commit latency, only the timestamps speak:
// a block more than 15 % late after its parent, or decided in a round
// above 0, holding at least half the capacity, takes a quarter off; one on
// time holding 90 % of it adds 10 %.
func (a *Admission) Replay(txs int, timestamp, round uint64) {
	prev := a.lastTS
	if _, first := a.startBlock(timestamp, time.Time{}); first {
		return
	}
	interval := time.Duration(timestamp-prev) * time.Millisecond
	c := a.Capacity()
	late := interval > a.blockTime*115/100 || round > 0
	switch {
	case interval < a.blockTime/2:
	case late && txs >= c/2:
		a.setCapacity(c - c/4)
	case !late && txs >= c*9/10:
		a.grow(c)
	}
}

// startBlock starts a new count of clients at a block and records it; it
// returns the local time of the block before and whether this is the first
// block seen (or one not after the last).
func (a *Admission) startBlock(timestamp uint64, now time.Time) (prevLocal time.Time, first bool) {
	a.mu.Lock()
	prev := a.lastTS
	prevLocal = a.lastLocal
	if timestamp > prev {
		a.lastTS = timestamp
	}
	a.lastLocal = now
	a.active = len(a.clients)
	clear(a.clients)
	a.mu.Unlock()
	a.nextDue.Store(time.UnixMilli(int64(timestamp)).Add(a.blockTime).UnixNano())
	return prevLocal, prev == 0 || timestamp <= prev || (!now.IsZero() && prevLocal.IsZero())
}

func (a *Admission) grow(c int) { a.setCapacity(c + max(c/10, a.minBlock/4, 1)) }
