package node

import (
	"sync"
	"time"
)

// seenWindow is how long GossipSub may remember a message identity: its
// seen-message cache keeps one for two minutes and is swept every minute
// (p2p's messageID), so an identity is forgotten within three.
const seenWindow = 3 * time.Minute

// lateResendGap is how long after the previous send of a body its third
// and fourth attempts wait.
const lateResendGap = seenWindow / 8

// attempts hands out the attempt of each send of a body on a topic, so
// that each resend within the seen-message window has an identity of its
// own (wire.go). An attempt is free when it was never used for the body
// or GossipSub has forgotten it (seenWindow after it was used). The first
// two go at once: the message and a quick resend after a loss (the core
// resends a leader's proposal after half a block interval). The third and
// fourth wait lateResendGap after the send before, so that a body resent
// for minutes (a timeout repeated while a round lasts, the proposal of a
// round that does not decide) still travels when a partition heals rather
// than spending every attempt in its first seconds. A send with no free
// attempt is dropped: its copies would be dropped as duplicates anyway.
type attempts struct {
	now func() time.Time

	mu   sync.Mutex
	sent map[attemptKey]*attemptRecord
}

type attemptKey struct {
	topic string
	body  bodyKey
}

// attemptRecord is when each attempt of a body was last used (zero:
// never), and when the body was last sent.
type attemptRecord struct {
	used [maxAttempt + 1]time.Time
	last time.Time
}

// maxAttemptRecords bounds the bodies remembered: when more are, those
// not sent within the window are forgotten, and if that is not enough,
// all (a resend may then reuse an identity GossipSub still knows, and not
// travel).
const maxAttemptRecords = 1 << 14

func newAttempts(now func() time.Time) *attempts {
	return &attempts{now: now, sent: map[attemptKey]*attemptRecord{}}
}

// next returns the attempt of this send on topic of the body whose key
// (wireKey) is body, false when none is free.
func (a *attempts) next(topic string, body bodyKey) (uint8, bool) {
	k := attemptKey{topic, body}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sent) >= maxAttemptRecords {
		for k, r := range a.sent {
			if now.Sub(r.last) >= seenWindow {
				delete(a.sent, k)
			}
		}
		if len(a.sent) >= maxAttemptRecords {
			clear(a.sent)
		}
	}
	r := a.sent[k]
	if r == nil {
		r = &attemptRecord{}
		a.sent[k] = r
	}
	for i := range r.used {
		free := r.used[i].IsZero() || now.Sub(r.used[i]) >= seenWindow
		if !free || (i >= 2 && !r.last.IsZero() && now.Sub(r.last) < lateResendGap) {
			continue
		}
		r.used[i], r.last = now, now
		return uint8(i), true
	}
	return 0, false
}
