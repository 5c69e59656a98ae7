package chain

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the chain, in namespace bizra, subsystem chain.
type Metrics struct {
	// Height is the last committed height.
	Height prometheus.Gauge
	// BlockInterval is the time between consecutive block timestamps.
	BlockInterval prometheus.Histogram
	// BlockTxs is the number of transactions per committed block.
	BlockTxs prometheus.Histogram
	// StateApply is the time to execute a block's transactions and compute
	// its state root, when building or when re-executing a proposal.
	StateApply prometheus.Histogram
	// StoreCommit is the time to write a block in one synced batch.
	StoreCommit prometheus.Histogram
	// CommittedTxs counts transactions in committed blocks.
	CommittedTxs prometheus.Counter
}

// NewMetrics creates the chain metrics and registers them with reg; a nil
// reg gives working metrics that nobody collects (the no-op variant).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "chain"
	m := &Metrics{
		Height: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "height",
			Help: "Height of the last committed block.",
		}),
		BlockInterval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "block_interval_seconds",
			Help:    "Time between the timestamps of consecutive committed blocks.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60},
		}),
		BlockTxs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "block_txs",
			Help:    "Transactions per committed block.",
			Buckets: []float64{0, 1, 10, 100, 1000, 5000, 10000, 20000, 50000, 100000},
		}),
		StateApply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "state_apply_seconds",
			Help:    "Time to execute a block's transactions and compute its state root.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		StoreCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "store_commit_seconds",
			Help:    "Time to write a committed block to Pebble in one synced batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		CommittedTxs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "committed_txs_total",
			Help: "Transactions in committed blocks.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Height, m.BlockInterval, m.BlockTxs, m.StateApply, m.StoreCommit, m.CommittedTxs)
	}
	return m
}

// NopMetrics returns metrics that are not registered anywhere.
func NopMetrics() *Metrics { return NewMetrics(nil) }
