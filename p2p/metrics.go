package p2p

import (
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the host, in namespace bizra, subsystem p2p:
//
//	bizra_p2p_peers                              connected peers that passed the status handshake
//	bizra_p2p_best_height                        highest committed height peers advertise
//	bizra_p2p_messages_total{topic,result}       gossip messages validated: accept, ignore, reject
//	bizra_p2p_ignored_total{topic,reason}        of which ignored: expired, future, malformed
//	bizra_p2p_published_total{topic}             messages this host published
//	bizra_p2p_dropped_total{topic}               accepted messages dropped because the reader was slow
//	bizra_p2p_disconnects_total{reason}          peers disconnected and banned: score, chain, version, sync,
//	                                             withheld, topics, slow, ban (doc.go explains each)
//	bizra_p2p_penalties_total{reason}            penalty points given to peers: topics, withheld
//	bizra_p2p_sync_requests_total{result}        block sync requests sent: ok, empty, error
//	bizra_p2p_sync_served_total                  block sync requests answered
//	bizra_p2p_sync_served_bytes_total            bytes of blocks in the answers
//	bizra_p2p_sync_refused_total{reason}         block sync requests refused: unverified, requests, bytes,
//	                                             total, unavailable
//	bizra_p2p_outbound_queued_bytes              gossip bytes waiting to be sent, all peers' queues together
//	                                             (a message queued for several peers counts for each)
//	bizra_p2p_outbound_dropped_total             gossip RPCs dropped because a peer's queue was full
//	bizra_p2p_sync_heights_applied_total         heights applied by Sync
//	bizra_p2p_bytes_in_total, _bytes_out_total   bytes on all streams (libp2p bandwidth counter, swept each second)
//
// The byte counters are read from the host's bandwidth counter at scrape
// time.
type Metrics struct {
	Peers          prometheus.Gauge
	BestHeight     prometheus.Gauge
	Messages       *prometheus.CounterVec
	Ignored        *prometheus.CounterVec
	Published      *prometheus.CounterVec
	Dropped        *prometheus.CounterVec
	Disconnects    *prometheus.CounterVec
	Penalties      *prometheus.CounterVec
	SyncRequests   *prometheus.CounterVec
	SyncServed     prometheus.Counter
	SyncBytes      prometheus.Counter
	SyncRefused    *prometheus.CounterVec
	OutboundQueued prometheus.Gauge
	// OutboundDropped counts RPCs GossipSub could not queue for a peer.
	OutboundDropped prometheus.Counter
	HeightsApplied  prometheus.Counter
	BytesIn         prometheus.CounterFunc
	BytesOut        prometheus.CounterFunc

	bw atomic.Pointer[metrics.BandwidthCounter]
}

// NewMetrics creates the host metrics and registers them with reg; a nil
// reg gives working metrics that nobody collects. One Metrics serves one
// Host.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "bizra", Subsystem: "p2p", Name: name, Help: help}
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts(opts(name, help)), labels)
	}
	m := &Metrics{
		Peers:      prometheus.NewGauge(prometheus.GaugeOpts(opts("peers", "Connected peers that passed the status handshake."))),
		BestHeight: prometheus.NewGauge(prometheus.GaugeOpts(opts("best_height", "Highest committed height advertised by peers."))),
		Messages:   counterVec("messages_total", "Gossip messages validated, by topic and result (accept, ignore, reject).", "topic", "result"),
		Ignored:    counterVec("ignored_total", "Gossip messages ignored by the envelope checks, by topic and reason (expired, future, malformed).", "topic", "reason"),
		Published:  counterVec("published_total", "Gossip messages published by this host, by topic.", "topic"),
		Dropped:    counterVec("dropped_total", "Accepted gossip messages dropped because the reader was slow, by topic.", "topic"),
		Disconnects: counterVec("disconnects_total",
			"Peers disconnected and banned, by reason (score, chain, version, sync, withheld, topics, slow, ban).", "reason"),
		Penalties:    counterVec("penalties_total", "Penalty points given to peers, by reason (topics, withheld).", "reason"),
		SyncRequests: counterVec("sync_requests_total", "Block sync requests sent, by result (ok, empty, error).", "result"),
		SyncServed:   prometheus.NewCounter(prometheus.CounterOpts(opts("sync_served_total", "Block sync requests answered."))),
		SyncBytes:    prometheus.NewCounter(prometheus.CounterOpts(opts("sync_served_bytes_total", "Bytes of blocks in block sync answers."))),
		SyncRefused: counterVec("sync_refused_total",
			"Block sync requests refused, by reason (unverified, requests, bytes, total, unavailable).", "reason"),
		OutboundQueued: prometheus.NewGauge(prometheus.GaugeOpts(opts("outbound_queued_bytes",
			"Gossip bytes waiting to be sent, all peers' queues together."))),
		OutboundDropped: prometheus.NewCounter(prometheus.CounterOpts(opts("outbound_dropped_total",
			"Gossip RPCs dropped because a peer's queue was full."))),
		HeightsApplied: prometheus.NewCounter(prometheus.CounterOpts(opts("sync_heights_applied_total", "Heights applied by block sync."))),
	}
	m.BytesIn = prometheus.NewCounterFunc(prometheus.CounterOpts(opts("bytes_in_total", "Bytes received on all streams.")), func() float64 {
		if bw := m.bw.Load(); bw != nil {
			return float64(bw.GetBandwidthTotals().TotalIn)
		}
		return 0
	})
	m.BytesOut = prometheus.NewCounterFunc(prometheus.CounterOpts(opts("bytes_out_total", "Bytes sent on all streams.")), func() float64 {
		if bw := m.bw.Load(); bw != nil {
			return float64(bw.GetBandwidthTotals().TotalOut)
		}
		return 0
	})
	if reg != nil {
		reg.MustRegister(m.Peers, m.BestHeight, m.Messages, m.Ignored, m.Published, m.Dropped,
			m.Disconnects, m.Penalties, m.SyncRequests, m.SyncServed, m.SyncBytes, m.SyncRefused,
			m.OutboundQueued, m.OutboundDropped, m.HeightsApplied, m.BytesIn, m.BytesOut)
	}
	return m
}

// NopMetrics returns metrics that are not registered anywhere.
func NopMetrics() *Metrics { return NewMetrics(nil) }
