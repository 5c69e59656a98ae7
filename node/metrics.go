package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bizra/node0/consensus"
)

// Metrics of the node itself, in namespace bizra, subsystem node.
type Metrics struct {
	// Info is 1, labelled with the version, chain id and moniker.
	Info *prometheus.GaugeVec
	// StartTime is the unix time the node started.
	StartTime prometheus.Gauge
}

// newRegistry returns the node's registry with the Go runtime and process
// collectors (resident memory, file descriptors, CPU).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewMetrics registers the node metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "node"
	m := &Metrics{
		Info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "info",
			Help: "Always 1; labels identify the node.",
		}, []string{"version", "chain_id", "moniker"}),
		StartTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "start_time_seconds",
			Help: "Unix time the node started.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Info, m.StartTime)
	}
	return m
}

// metricsServer serves /metrics on its own address.
type metricsServer struct {
	addr  string
	reg   *prometheus.Registry
	log   *slog.Logger
	pprof bool // also serve the Go profiler under /debug/pprof/

	mu    sync.Mutex
	bound string
	srv   *http.Server
	done  chan struct{}
}

func (m *metricsServer) Name() string { return "metrics" }

func (m *metricsServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError)}))
	if m.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	m.mu.Lock()
	m.bound = ln.Addr().String()
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.done = make(chan struct{})
	m.mu.Unlock()
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics server", "err", err)
		}
	}()
	m.log.Info("serving metrics", "addr", "http://"+m.bound+"/metrics")
	return nil
}

// Stop waits up to 3 s for scrapes in progress, then closes what remains.
func (m *metricsServer) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		if err := m.srv.Close(); err != nil {
			return err
		}
	}
	<-m.done
	return nil
}

// Addr returns the bound address, once started.
func (m *metricsServer) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bound
}

// ConsensusMetrics are the consensus engine's, in namespace bizra,
// subsystem consensus. The counters read the core's own (consensus.Stats).
type ConsensusMetrics struct {
	Height       prometheus.Gauge
	Round        prometheus.Gauge
	CertTime     prometheus.Histogram
	PersistTime  prometheus.Histogram
	CommitRound  prometheus.Histogram
	SignedStake  prometheus.Gauge
	BadProposals prometheus.Counter

	mu    sync.Mutex
	stats consensus.Stats
}

// NewConsensusMetrics registers the consensus metrics with reg (nil:
// unregistered).
func NewConsensusMetrics(reg prometheus.Registerer) *ConsensusMetrics {
	const ns, sub = "bizra", "consensus"
	m := &ConsensusMetrics{
		Height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "height",
			Help: "Height being decided."}),
		Round: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "round",
			Help: "Current round of the height being decided."}),
		CertTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "certificate_seconds",
			Help:    "Time from this validator's proposal (or the start of the round) to a quorum certificate it formed as the round's leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		PersistTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "persist_seconds",
			Help:    "Time to persist the safety state before sending.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		CommitRound: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_round",
			Help:    "Round in which each height committed (0 when the first leader succeeded).",
			Buckets: []float64{0, 1, 2, 3, 5, 8, 13}}),
		SignedStake: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_certificate_stake_ratio",
			Help: "Share of the total stake that signed the newest committed certificate."}),
		BadProposals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bad_proposals_total",
			Help: "Proposals whose block did not check against the chain."}),
	}
	counter := func(name, help string, get func(*consensus.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(get(&m.stats))
		})
	}
	if reg != nil {
		reg.MustRegister(m.Height, m.Round, m.CertTime, m.PersistTime, m.CommitRound, m.SignedStake, m.BadProposals,
			counter("rounds_total", "Rounds entered.", func(s *consensus.Stats) uint64 { return s.Rounds }),
			counter("timeouts_total", "Round timeouts this validator broadcast.", func(s *consensus.Stats) uint64 { return s.Timeouts }),
			counter("timeout_certificates_total", "Timeout certificates that moved this validator to a new round.", func(s *consensus.Stats) uint64 { return s.TimeoutCerts }),
			counter("certificates_formed_total", "Quorum certificates this validator formed as leader.", func(s *consensus.Stats) uint64 { return s.CertsFormed }),
			counter("votes_received_total", "Single votes received from other validators.", func(s *consensus.Stats) uint64 { return s.VotesReceived }),
			counter("aggregates_received_total", "Committee aggregates received.", func(s *consensus.Stats) uint64 { return s.AggregatesReceived }),
			counter("bad_signatures_total", "Votes, aggregates, proposals and certificates whose signature failed.", func(s *consensus.Stats) uint64 { return s.BadSignatures }),
		)
	}
	return m
}

func (m *ConsensusMetrics) setStats(s consensus.Stats, height, round uint64) {
	m.mu.Lock()
	m.stats = s
	m.mu.Unlock()
	m.Height.Set(float64(height))
	m.Round.Set(float64(round))
}

func (m *ConsensusMetrics) observeCommit(qc *consensus.QC, vals *consensus.ValidatorSet) {
	m.CommitRound.Observe(float64(qc.Round))
	m.SignedStake.Set(float64(vals.StakeOf(qc.Signers)) / float64(vals.TotalStake()))
}
