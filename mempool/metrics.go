package mempool

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the pool, in namespace bizra, subsystem mempool, labelled by
// shard:
//
//	bizra_mempool_txs{shard}              transactions held, pending and queued
//	bizra_mempool_queued{shard}           of which queued
//	bizra_mempool_bytes{shard}            bytes of encodings held
//	bizra_mempool_admitted_total{shard}   admitted
//	bizra_mempool_replaced_total{shard}   replaced by a higher-priced one
//	bizra_mempool_evicted_total{shard}    evicted by limits or unpayable after a block
//	bizra_mempool_expired_total{shard}    queued ones past the queue lifetime
//	bizra_mempool_included_total{shard}   removed because a block included them
//	bizra_mempool_rejected_total{shard,reason}
//
// The per-shard figures live in the shard and are read at scrape time, so
// that admission writes no shared metric memory; rejections before the
// sender is known carry shard="none".
type Metrics struct {
	Rejected  *prometheus.CounterVec
	collector *shardCollector
}

// NewMetrics creates the pool metrics and registers them with reg; a nil
// reg gives working metrics that nobody collects. One Metrics serves one
// Pool.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "bizra", Subsystem: "mempool", Name: "rejected_total",
			Help: "Transactions refused at admission, by reason.",
		}, []string{"shard", "reason"}),
		collector: newShardCollector(),
	}
	if reg != nil {
		reg.MustRegister(m.Rejected, m.collector)
	}
	return m
}

// NopMetrics returns metrics that are not registered anywhere.
func NopMetrics() *Metrics { return NewMetrics(nil) }

// rejectedFor resolves the rejection counters of one shard label.
func (m *Metrics) rejectedFor(label string) []prometheus.Counter {
	out := make([]prometheus.Counter, 0, len(reasons)+1)
	for _, r := range reasons {
		out = append(out, m.Rejected.WithLabelValues(label, r.name))
	}
	return append(out, m.Rejected.WithLabelValues(label, "other"))
}

// shardStats are one shard's figures. They are written under the shard
// lock and read by the collector without it.
type shardStats struct {
	txs, queued, bytes                           atomic.Int64
	admitted, replaced, evicted, expired, incldd atomic.Uint64
}

type statDesc struct {
	desc    *prometheus.Desc
	counter bool
	get     func(*shardStats) float64
}

type shardCollector struct {
	pool  atomic.Pointer[Pool]
	descs []statDesc
}

func newShardCollector() *shardCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("bizra", "mempool", name), help, []string{"shard"}, nil)
	}
	return &shardCollector{descs: []statDesc{
		{d("txs", "Transactions held, pending and queued."), false, func(s *shardStats) float64 { return float64(s.txs.Load()) }},
		{d("queued", "Queued transactions held (waiting for a nonce gap to fill)."), false, func(s *shardStats) float64 { return float64(s.queued.Load()) }},
		{d("bytes", "Bytes of transaction encodings held."), false, func(s *shardStats) float64 { return float64(s.bytes.Load()) }},
		{d("admitted_total", "Transactions admitted."), true, func(s *shardStats) float64 { return float64(s.admitted.Load()) }},
		{d("replaced_total", "Transactions replaced by a higher-priced one with the same nonce."), true, func(s *shardStats) float64 { return float64(s.replaced.Load()) }},
		{d("evicted_total", "Transactions evicted by the limits, or unpayable after a block."), true, func(s *shardStats) float64 { return float64(s.evicted.Load()) }},
		{d("expired_total", "Queued transactions dropped after the queue lifetime."), true, func(s *shardStats) float64 { return float64(s.expired.Load()) }},
		{d("included_total", "Transactions removed because a committed block included them or made them stale."), true, func(s *shardStats) float64 { return float64(s.incldd.Load()) }},
	}}
}

func (c *shardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

func (c *shardCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.pool.Load()
	if p == nil {
		return
	}
	for i, sh := range p.shards {
		label := strconv.Itoa(i)
		for _, d := range c.descs {
			t := prometheus.GaugeValue
			if d.counter {
				t = prometheus.CounterValue
			}
			ch <- prometheus.MustNewConstMetric(d.desc, t, d.get(&sh.stats), label)
		}
	}
}
