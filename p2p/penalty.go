package p2p

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Penalties are points the host gives a peer for misbehaviour the gossip
// router does not see: invented topics, blocks withheld. They decay by
// half every penaltyHalfLife. A peer whose points reach penaltyLimit is
// disconnected and banned for the misbehaviour that took it there. The
// points also enter the peer's gossip score, negated, as its
// application-specific score, so that a penalised peer loses gossip (at
// −500) before it is disconnected.
const (
	penaltyLimit    = -DisconnectThreshold // 1,000
	penaltyHalfLife = 2 * time.Minute
	// maxPenalised is the number of penalised peers above which entries
	// decayed below one point are forgotten; beyond four times as many,
	// any entry is.
	maxPenalised = 1024

	// inventedTopicPenalty is the points for each topic refused by the
	// subscription filter: seven in a short while disconnect.
	inventedTopicPenalty = 150
	// withheldPenalty is the points for a sync response that is empty or
	// short for heights the peer advertised: four in a short while
	// disconnect.
	withheldPenalty = 300
)

type penalties struct {
	mu sync.Mutex
	m  map[peer.ID]*penaltyEntry
}

type penaltyEntry struct {
	points float64
	at     time.Time
}

func newPenalties() *penalties { return &penalties{m: make(map[peer.ID]*penaltyEntry)} }

func decayed(e *penaltyEntry, now time.Time) float64 {
	dt := now.Sub(e.at)
	if dt <= 0 {
		return e.points
	}
	return e.points * math.Exp2(-dt.Seconds()/penaltyHalfLife.Seconds())
}

// add gives p points and returns its total.
func (ps *penalties) add(p peer.ID, points float64, now time.Time) float64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	e := ps.m[p]
	if e == nil {
		if len(ps.m) >= maxPenalised {
			for q, f := range ps.m {
				if decayed(f, now) < 1 || len(ps.m) >= 4*maxPenalised {
					delete(ps.m, q)
				}
			}
		}
		e = &penaltyEntry{}
		ps.m[p] = e
	}
	e.points = decayed(e, now) + points
	e.at = now
	return e.points
}

// get returns p's points now.
func (ps *penalties) get(p peer.ID, now time.Time) float64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if e := ps.m[p]; e != nil {
		return decayed(e, now)
	}
	return 0
}

// penalise gives p points for a misbehaviour (reason, a disconnect reason;
// cause, what it did) and disconnects it once its points reach
// penaltyLimit.
func (h *Host) penalise(p peer.ID, points float64, reason string, cause error) {
	total := h.pen.add(p, points, time.Now())
	h.met.Penalties.WithLabelValues(reason).Add(points)
	if total >= penaltyLimit {
		h.disconnect(p, reason, fmt.Errorf("%w (penalty %.0f)", cause, total))
		return
	}
	h.log.Debug("peer penalised", "peer_id", p.String(), "reason", reason, "points", points, "total", total, "err", cause)
}

// penalty returns p's points now.
func (h *Host) penalty(p peer.ID) float64 { return h.pen.get(p, time.Now()) }
