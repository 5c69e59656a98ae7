package driver

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/consensus"
)

// Metrics are the driver's, in namespace bizra, subsystem consensus. The
// counters read the core's own (consensus.Stats).
type Metrics struct {
	// Height and Round are being decided.
	Height prometheus.Gauge
	Round  prometheus.Gauge
	// CertTime is the time from this validator's proposal (or the start
	// of the round) to a certificate it formed as the round's leader.
	CertTime prometheus.Histogram
	// PersistTime is the time to persist the safety state before sending.
	PersistTime prometheus.Histogram
	// CommitRound is the round in which each height committed.
	CommitRound prometheus.Histogram
	// SignedStake is the share of the stake that signed the newest
	// committed certificate.
	SignedStake prometheus.Gauge
	// BadProposals counts proposals whose block did not check.
	BadProposals prometheus.Counter

	mu    sync.Mutex
	stats consensus.Stats
}

// NewMetrics registers the consensus metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "consensus"
	m := &Metrics{
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

// NopMetrics returns metrics registered nowhere, for simulations and
// tests.
func NopMetrics() *Metrics { return NewMetrics(nil) }

func (m *Metrics) setStats(s consensus.Stats, height, round uint64) {
	m.mu.Lock()
	m.stats = s
	m.mu.Unlock()
	m.Height.Set(float64(height))
	m.Round.Set(float64(round))
}

func (m *Metrics) observeCommit(qc *consensus.QC, vals *consensus.ValidatorSet) {
	m.CommitRound.Observe(float64(qc.Round))
	m.SignedStake.Set(float64(vals.StakeOf(qc.Signers)) / float64(vals.TotalStake()))
}
