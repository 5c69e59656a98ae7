package node

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestAttempts: a body gets attempts 0 and 1 at once, 2 and 3 spaced, and
// each again once GossipSub has forgotten it; never more than four
// identities within the seen-message window, per topic.
func TestAttempts(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a := newAttempts(func() time.Time { return now })
	body := bodyKey(sha256.Sum256([]byte("a timeout")))
	type send struct {
		after time.Duration
		want  int // -1: dropped
	}
	for i, s := range []send{
		{0, 0},
		{time.Second, 1},
		{time.Second, -1}, // the third waits lateResendGap
		{lateResendGap, 2},
		{time.Second, -1},
		{lateResendGap, 3},
		{lateResendGap, -1}, // all four used within the window
		{seenWindow - 3*lateResendGap - 2*time.Second, 0}, // attempt 0 forgotten
		{time.Second, 1},
		{time.Second, -1},
	} {
		now = now.Add(s.after)
		got, ok := a.next(topicTimeouts, body)
		if !ok {
			got = 255
		}
		if (s.want < 0 && ok) || (s.want >= 0 && (!ok || int(got) != s.want)) {
			t.Fatalf("send %d: attempt %d %v, want %d", i, got, ok, s.want)
		}
	}
	// Another topic, another body: their own attempts.
	if got, ok := a.next(topicVotes, body); !ok || got != 0 {
		t.Fatalf("another topic: %d %v", got, ok)
	}
	if got, ok := a.next(topicTimeouts, bodyKey(sha256.Sum256([]byte("another")))); !ok || got != 0 {
		t.Fatalf("another body: %d %v", got, ok)
	}
	// Within any window of seenWindow, at most four identities of a body.
	b := newAttempts(func() time.Time { return now })
	var sends []time.Time
	for range 2000 {
		now = now.Add(time.Second)
		if _, ok := b.next(topicTimeouts, body); ok {
			sends = append(sends, now)
		}
	}
	for i := range sends {
		n := 0
		for _, s := range sends[i:] {
			if s.Sub(sends[i]) < seenWindow {
				n++
			}
		}
		if n > maxAttempt+1 {
			t.Fatalf("%d sends within the window from %v", n, sends[i])
		}
	}
	if len(sends) < 2000/int(seenWindow/time.Second)*(maxAttempt+1)-4 {
		t.Fatalf("only %d sends in 2000 s", len(sends))
	}
}
