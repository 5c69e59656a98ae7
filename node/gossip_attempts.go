package node

import (
	"crypto/sha256"
	"sync"
	"time"
)

// seenWindow is how long GossipSub may remember a message identity: its
// seen-message cache keeps one for two minutes and is swept every minute
// (p2p's messageID), so an identity is forgotten within three.
const seenWindow = 3 * time.Minute

// attempts hands out the attempt of each send of a body on a topic: 0 for
// the first, then 1, 2 and 3 for the resends within seenWindow, so that
// each resend has an identity of its own (wire.go); past the fourth, none
// until the window has passed since the first, when GossipSub has
// forgotten them all. The core resends on timers (a leader's proposal at
// doubling intervals, a timeout once per round timeout), so four sends a
// window are what matters: the first and the resends of the first minute
// or so, the lossy time after a partition heals.
type attempts struct {
	now func() time.Time

	mu   sync.Mutex
	sent map[attemptKey]*attemptRecord
}

type attemptKey struct {
	topic string
	body  [32]byte
}

type attemptRecord struct {
	first time.Time
	next  uint8
}

// maxAttemptRecords bounds the bodies remembered: when more are, those
// older than the window are forgotten, and if that is not enough, all.
const maxAttemptRecords = 1 << 14

func newAttempts(now func() time.Time) *attempts {
	return &attempts{now: now, sent: map[attemptKey]*attemptRecord{}}
}

// next returns the attempt of this send of body on topic, false when the
// body has used every attempt within the window.
func (a *attempts) next(topic string, body []byte) (uint8, bool) {
	k := attemptKey{topic, sha256.Sum256(body)}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sent) >= maxAttemptRecords {
		for k, r := range a.sent {
			if now.Sub(r.first) >= seenWindow {
				delete(a.sent, k)
			}
		}
		if len(a.sent) >= maxAttemptRecords {
			clear(a.sent)
		}
	}
	r := a.sent[k]
	if r == nil || now.Sub(r.first) >= seenWindow {
		r = &attemptRecord{first: now}
		a.sent[k] = r
	}
	if r.next > maxAttempt {
		return 0, false
	}
	r.next++
	return r.next - 1, true
}
