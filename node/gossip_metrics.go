package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
)

// gossipMetrics are the consensus gossip's, in namespace bizra, subsystem
// consensus_gossip.
type gossipMetrics struct {
	// Checks counts the consensus messages checked before relaying, by
	// kind, verdict and reason (what decided: checked, known, signature,
	// binding, behind, ...; see gossipCheck).
	Checks *prometheus.CounterVec
	// Duplicates counts accepted copies of a body already handed to the
	// core, which are not stepped again.
	Duplicates prometheus.Counter
	// InboxDropped counts messages dropped because the consensus inbox was
	// full.
	InboxDropped prometheus.Counter
	// ResendsDropped counts sends of a body that had used every attempt
	// within the seen-message window: they would not travel.
	ResendsDropped prometheus.Counter
}

// newGossipMetrics registers the metrics with reg (nil: unregistered),
// with the verified-signature cache's counters when crypto is one.
func newGossipMetrics(reg prometheus.Registerer, crypto consensus.Crypto) *gossipMetrics {
	const ns, sub = "bizra", "consensus_gossip"
	m := &gossipMetrics{
		Checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "checks_total",
			Help: "Consensus messages checked before relaying, by kind, verdict and reason."}, []string{"kind", "verdict", "reason"}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "duplicates_total",
			Help: "Accepted copies of a consensus message already handed to the consensus engine, not stepped again."}),
		InboxDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "inbox_dropped_total",
			Help: "Consensus messages dropped because the consensus engine's inbox was full."}),
		ResendsDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resends_dropped_total",
			Help: "Sends of a consensus message that had used every attempt within the gossip seen-message window."}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.Checks, m.Duplicates, m.InboxDropped, m.ResendsDropped)
	if vc, ok := crypto.(*consensus.VerifyCache); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "bizra", Subsystem: "consensus", Name: "verify_cache_hits_total",
				Help: "Signature checks answered by the cache of verified signatures."}, func() float64 { h, _ := vc.Stats(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "bizra", Subsystem: "consensus", Name: "verify_cache_misses_total",
				Help: "Signature checks that needed a pairing."}, func() float64 { _, m := vc.Stats(); return float64(m) }),
		)
	}
	return m
}

func (m *gossipMetrics) check(kind consensus.Kind, v p2p.Verdict, reason string) {
	m.Checks.WithLabelValues(kindName(kind), v.String(), reason).Inc()
}

// kindName names a message kind for metrics.
func kindName(k consensus.Kind) string {
	switch k {
	case consensus.KindProposal:
		return "proposal"
	case consensus.KindVote:
		return "vote"
	case consensus.KindAggregate:
		return "aggregate"
	case consensus.KindQC:
		return "certificate"
	case consensus.KindTimeout:
		return "timeout"
	case consensus.KindTC:
		return "timeout_certificate"
	}
	return "unknown"
}
