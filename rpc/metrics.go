package rpc

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the server, in namespace bizra, subsystem rpc.
type Metrics struct {
	// Requests counts calls by method and outcome (ok, error, not_found
	// for unknown methods, limited for rate-limited calls, too_large for
	// answers refused by max_response_bytes).
	Requests *prometheus.CounterVec
	// Latency is the time to answer one call, by method.
	Latency *prometheus.HistogramVec
	// WSConns is the number of open WebSocket connections.
	WSConns prometheus.Gauge
	// Subscriptions is the number of active subscriptions.
	Subscriptions prometheus.Gauge
	// Refused counts requests refused before any call ran, by reason: host
	// (a name not in allowed_hosts), origin (not in cors_origins),
	// content_type (not JSON), ws_conns (max_ws_conns reached),
	// ws_client_conns (max_ws_conns_per_client reached).
	Refused *prometheus.CounterVec
	// WSSlowClosed counts WebSocket connections closed because the client
	// did not read its answers or notifications as fast as they came.
	WSSlowClosed prometheus.Counter
	// FeedDropped counts events dropped, by subscription kind, because the
	// feed's queue was full: its goroutine did not keep up.
	FeedDropped *prometheus.CounterVec
	// PoolFull counts eth_sendRawTransaction calls answered "txpool is
	// full", by reason (capacity, client_share, pool_limit; see PoolFull).
	PoolFull *prometheus.CounterVec
}

// NewMetrics creates the server metrics and registers them with reg; nil
// gives working metrics that nobody collects.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "rpc"
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "JSON-RPC calls by method and outcome.",
		}, []string{"method", "outcome"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_seconds",
			Help:    "Time to answer one JSON-RPC call, by method.",
			Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5},
		}, []string{"method"}),
		WSConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "ws_connections",
			Help: "Open WebSocket connections.",
		}),
		Subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "subscriptions",
			Help: "Active eth_subscribe subscriptions.",
		}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "refused_total",
			Help: "Requests refused before any call ran, by reason.",
		}, []string{"reason"}),
		WSSlowClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ws_slow_closed_total",
			Help: "WebSocket connections closed because the client read too slowly.",
		}),
		FeedDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "feed_dropped_total",
			Help: "Subscription events dropped because the feed's queue was full, by kind.",
		}, []string{"kind"}),
		PoolFull: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "txpool_full_total",
			Help: "Transactions refused with \"txpool is full\" (code -32005), by reason: capacity, client_share, pool_limit.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Latency, m.WSConns, m.Subscriptions, m.Refused, m.WSSlowClosed, m.FeedDropped, m.PoolFull)
	}
	return m
}

// NopMetrics returns metrics that are not registered anywhere.
func NopMetrics() *Metrics { return NewMetrics(nil) }
