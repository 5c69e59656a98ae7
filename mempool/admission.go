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
// blocks keep the chain's block time. It is estimated from committed blocks
// (their sizes, timestamps and rounds) and the latency with which this
// node committed them:
//
//   - a block that came late (its timestamp more than 15 % past its
//     parent's plus the block time, or committed in a round above 0) while it
//     held at least half the capacity shows the chain took more than it
//     could check in time: the capacity falls by a quarter;
//   - a block on time but committed more than 80 % of the block time after
//     its timestamp (this node's clock: the commit latency), holding at
//     least half the capacity, is close to coming late: a tenth off;
//   - a block on time that held at least 90 % of the capacity and committed
//     within 60 % of the block time shows demand at the bound and room to
//     take it: the capacity grows by 10 % (at least MinBlockTxs / 4);
//   - a late block that held little (a validator down, not load) changes
//     nothing, nor does a block faster than half the block time (catching
//     up).
//
// The capacity starts at 2,000 transactions a second's worth (at most a
// quarter of the genesis block limit) and stays between MinBlockTxs and
// that limit. The proposer
// builds blocks of at most the capacity (chain.BuildParams.MaxTxs), and the
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
	limit    atomic.Int64 // pending transactions the door admits below; 0 admits all
	nextDue  atomic.Int64 // unix ns when the next block is due, for retry hints

	mu      sync.Mutex
	clients map[string]int // admissions since the last block, by client
	active  int            // clients seen in the previous block
	lastTS  uint64         // timestamp of the last block seen, unix ms
}

// initialRate is the transactions per second the capacity starts from
// (within the bounds): about what four validators on a small machine take.
const initialRate = 2000

// maxClients bounds the clients counted between two blocks; later ones
// share one count.
const maxClients = 4096

// Refusal reasons, the reason label of bizra_mempool_admission_refused_total
// and what a client is told.
const (
	RefusedCapacity    = "capacity"     // the pool holds what the next blocks take
	RefusedClientShare = "client_share" // this client took its share since the last block
)

// AdmissionMetrics are the door's metrics, in namespace bizra, subsystem
// mempool:
//
//	bizra_mempool_admission_refused_total{reason}  transactions refused at the door
//	bizra_mempool_admission_capacity               transactions per block, as estimated
//	bizra_mempool_admission_limit                  pending transactions the door admits below
type AdmissionMetrics struct {
	Refused  *prometheus.CounterVec
	Capacity prometheus.Gauge
	Limit    prometheus.Gauge
	refused  map[string]prometheus.Counter
}

// NewAdmissionMetrics creates the door's metrics and registers them with
// reg (nil: unregistered).
func NewAdmissionMetrics(reg prometheus.Registerer) *AdmissionMetrics {
	m := &AdmissionMetrics{
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "admission_refused_total",
			Help: "Transactions refused at the door because the chain cannot take them now, by reason (capacity, client_share).",
		}, []string{"reason"}),
		Capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "admission_capacity",
			Help: "Transactions per block the chain takes while keeping its block time, as estimated from committed blocks; proposals hold at most this many.",
		}),
		Limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "admission_limit",
			Help: "Pending transactions below which the door admits client transactions (admit_blocks × capacity; 0: no bound).",
		}),
	}
	m.refused = map[string]prometheus.Counter{
		RefusedCapacity:    m.Refused.WithLabelValues(RefusedCapacity),
		RefusedClientShare: m.Refused.WithLabelValues(RefusedClientShare),
	}
	if reg != nil {
		reg.MustRegister(m.Refused, m.Capacity, m.Limit)
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
	limit := int64(0)
	if a.perBlock > 0 {
		limit = max(int64(float64(c)*a.perBlock), 1)
	}
	a.limit.Store(limit)
	a.metrics.Capacity.Set(float64(c))
	a.metrics.Limit.Set(float64(limit))
}

// Capacity returns the transactions a block should hold at most.
func (a *Admission) Capacity() int { return int(a.capacity.Load()) }

// Limit returns the pending transactions below which the door admits; 0
// means it admits everything.
func (a *Admission) Limit() int { return int(a.limit.Load()) }

// Admit reports whether client may hand in one more transaction now. If
// not, it says why (RefusedCapacity or RefusedClientShare) and when the
// next block is due, a fair time to try again.
func (a *Admission) Admit(client string) (ok bool, reason string, retryAfter time.Duration) {
	limit := a.limit.Load()
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
	a.metrics.refused[reason].Inc()
	return false, reason, a.retryAfter()
}

// retryAfter is the time until the next block is due, at least 100 ms.
func (a *Admission) retryAfter() time.Duration {
	d := time.Duration(a.nextDue.Load() - a.now().UnixNano())
	return max(d, 100*time.Millisecond).Round(10 * time.Millisecond)
}

// Committed adjusts the capacity after a block commits: its size, its
// timestamp (unix ms) and the round it was decided in. Called as the block
// commits, the clock also gives the block's commit latency here (from its
// timestamp, when the leader proposed it).
func (a *Admission) Committed(txs int, timestamp, round uint64) {
	now := a.now()
	a.mu.Lock()
	prev := a.lastTS
	a.lastTS = timestamp
	a.active = len(a.clients)
	clear(a.clients)
	a.mu.Unlock()
	a.nextDue.Store(time.UnixMilli(int64(timestamp)).Add(a.blockTime).UnixNano())
	if prev == 0 || timestamp <= prev {
		return
	}
	interval := time.Duration(timestamp-prev) * time.Millisecond
	latency := now.Sub(time.UnixMilli(int64(timestamp)))
	if latency < 0 || latency > 3*a.blockTime {
		latency = -1 // not this node's commit as it happened: replay, sync or clock skew
	}
	c := a.Capacity()
	late := interval > a.blockTime*115/100 || round > 0
	switch {
	case interval < a.blockTime/2:
		// A block decided faster than the block time: this node is
		// catching up and the timing says nothing about the load.
	case late && txs >= c/2:
		a.setCapacity(c - c/4)
	case latency > a.blockTime*8/10 && txs >= c/2:
		// On time, but committed close to the next block's slot: ease off
		// before blocks come late.
		a.setCapacity(c - c/10)
	case !late && txs >= c*9/10 && latency < a.blockTime*6/10:
		a.setCapacity(c + max(c/10, a.minBlock/4, 1))
	}
}
