package explorer

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the explorer, in namespace bizra, subsystem explorer.
type Metrics struct {
	// IndexedHeight is the height of the last indexed block; NodeHeight the
	// node's head as last seen; BlocksBehind their difference.
	IndexedHeight prometheus.Gauge
	NodeHeight    prometheus.Gauge
	BlocksBehind  prometheus.Gauge
	// NodeUp is 1 while the node answers; NodeErrors counts failed fetches.
	NodeUp     prometheus.Gauge
	NodeErrors prometheus.Counter
	// RowsWritten counts rows written, by table; BatchSeconds the time of one
	// write batch (one transaction).
	RowsWritten  *prometheus.CounterVec
	BatchSeconds prometheus.Histogram
	// CacheRequests counts cache lookups by tier (local, redis) and result
	// (hit, miss, error, skipped); RedisUp is 0 while Redis is unreachable.
	CacheRequests *prometheus.CounterVec
	RedisUp       prometheus.Gauge
	// CacheCoalesced counts cache misses that waited for the load of the
	// same key another request had started, instead of loading it again.
	CacheCoalesced prometheus.Counter
	// Invalidations counts keys dropped by indexed blocks.
	Invalidations prometheus.Counter
	// DBQueries counts reads by the pool that served them (primary,
	// replica-N); ReplicaUp, ReplicaLagSeconds and ReplicaLagBytes describe
	// each replica at its last health check.
	DBQueries         *prometheus.CounterVec
	ReplicaUp         *prometheus.GaugeVec
	ReplicaLagSeconds *prometheus.GaugeVec
	ReplicaLagBytes   *prometheus.GaugeVec
	// LeaderboardRefreshSeconds is the time of one concurrent refresh.
	LeaderboardRefreshSeconds prometheus.Histogram
	// HTTPRequests counts API requests by route and status code;
	// HTTPSeconds their latency by route.
	HTTPRequests *prometheus.CounterVec
	HTTPSeconds  *prometheus.HistogramVec
}

// NewMetrics registers the explorer's metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "explorer"
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		IndexedHeight: g("indexed_height", "Height of the last indexed block."),
		NodeHeight:    g("node_height", "The node's head height as last seen."),
		BlocksBehind:  g("blocks_behind", "Blocks the index is behind the node."),
		NodeUp:        g("node_up", "1 while the node answers JSON-RPC."),
		NodeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "node_errors_total",
			Help: "Failed calls to the node."}),
		RowsWritten: cv("rows_written_total", "Rows written to PostgreSQL, by table.", "table"),
		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_seconds",
			Help: "Time to write one batch of blocks (one transaction).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		CacheRequests: cv("cache_requests_total", "Cache lookups by tier and result.", "tier", "result"),
		RedisUp:       g("redis_up", "1 while Redis answers; 0 while reads go around it."),
		CacheCoalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_coalesced_total",
			Help: "Cache misses that waited for a load of the same key already under way."}),
		Invalidations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "invalidations_total",
			Help: "Cache keys dropped because indexed blocks changed them."}),
		DBQueries:         cv("db_queries_total", "Reads by the pool that served them.", "pool"),
		ReplicaUp:         gv("replica_up", "1 while a replica serves reads.", "replica"),
		ReplicaLagSeconds: gv("replica_lag_seconds", "Replay delay of a replica behind the primary.", "replica"),
		ReplicaLagBytes:   gv("replica_lag_bytes", "WAL bytes a replica has not replayed.", "replica"),
		LeaderboardRefreshSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "leaderboard_refresh_seconds", Help: "Time of one concurrent leaderboard refresh.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		HTTPRequests: cv("http_requests_total", "API requests by route and status code.", "route", "code"),
		HTTPSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "http_request_seconds",
			Help: "API request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.IndexedHeight, m.NodeHeight, m.BlocksBehind, m.NodeUp, m.NodeErrors, m.RowsWritten,
			m.BatchSeconds, m.CacheRequests, m.RedisUp, m.CacheCoalesced, m.Invalidations, m.DBQueries, m.ReplicaUp,
			m.ReplicaLagSeconds, m.ReplicaLagBytes, m.LeaderboardRefreshSeconds, m.HTTPRequests, m.HTTPSeconds)
	}
	return m
}
