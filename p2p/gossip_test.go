package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Four hosts that found each other through one bootstrap address exchange
// messages on a topic; nobody receives its own, and re-publishing the same
// payload later is a new message.
func TestGossipAmongFourHosts(t *testing.T) {
	cfg := testConfig()
	first := newHost(t, "g0", cfg, Options{})
	cfg.Bootstrap = first.Addrs()
	hosts := []*Host{first}
	for i := 1; i < 4; i++ {
		hosts = append(hosts, newHost(t, fmt.Sprintf("g%d", i), cfg, Options{}))
	}
	topics := make([]*Topic, len(hosts))
	for i, h := range hosts {
		tp, err := h.Join("tx", nil)
		if err != nil {
			t.Fatal(err)
		}
		topics[i] = tp
	}
	if _, err := hosts[0].Join("tx", nil); !errors.Is(err, ErrTopicJoined) {
		t.Fatalf("second Join = %v, want ErrTopicJoined", err)
	}
	meshReady(t, 20*time.Second, topics...)

	for i, tp := range topics {
		if err := tp.Publish([]byte(fmt.Sprintf("hello from %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, tp := range topics {
		var want []string
		for j := range hosts {
			if j != i {
				want = append(want, fmt.Sprintf("hello from %d", j))
			}
		}
		got := receiveAll(t, tp.Messages(), 10*time.Second, want...)
		for j, h := range hosts {
			if m, ok := got[fmt.Sprintf("hello from %d", j)]; ok && m.From != h.ID() {
				t.Errorf("message from %d says From %s, want %s", j, m.From, h.ID())
			}
		}
		if _, ok := got[fmt.Sprintf("hello from %d", i)]; ok {
			t.Errorf("host %d received its own message", i)
		}
	}
	// The same payload again is the same message, however it is wrapped,
	// for as long as the router remembers it (two minutes and more).
	if err := topics[0].Publish([]byte("again")); err != nil {
		t.Fatal(err)
	}
	receive(t, topics[1].Messages(), 10*time.Second, "again")
	if err := topics[0].Publish([]byte("again")); err != nil {
		t.Fatal(err)
	}
	if err := topics[0].Publish([]byte("once more")); err != nil {
		t.Fatal(err)
	}
	receive(t, topics[1].Messages(), 10*time.Second, "once more")
	if got := drain(topics[1].Messages()); slices.Contains(got, "again") {
		t.Fatalf("a re-publication was delivered again: %q", got)
	}
	for i, tp := range topics {
		if slices.Contains(drain(tp.Messages()), fmt.Sprintf("hello from %d", i)) {
			t.Errorf("host %d received its own message", i)
		}
	}
	if got := counter(hosts[0].met.Published.WithLabelValues("tx")); got < 4 {
		t.Errorf("published_total = %v", got)
	}
	// The bandwidth meters are swept once a second.
	waitFor(t, 5*time.Second, "the bandwidth counters", func() bool {
		return counter(hosts[1].met.BytesIn) > 0 && counter(hosts[1].met.BytesOut) > 0
	})
}

// A peer whose messages the validator rejects gets no relay, is scored down
// and disconnected, and cannot come back, while the honest peers keep
// exchanging messages. The line is bad–h1–h2–h3, without the DHT, so that
// only h1 hears the bad peer directly.
func TestRejectedPeerIsNotRelayedAndDisconnected(t *testing.T) {
	validate := func(_ string, data []byte) Verdict {
		if bytes.HasPrefix(data, []byte("bad")) {
			return Reject
		}
		return Accept
	}
	cfg := testConfig()
	cfg.DHT = false
	h1 := newHost(t, "h1", cfg, Options{})
	cfg.Bootstrap = h1.Addrs()
	h2 := newHost(t, "h2", cfg, Options{})
	bad := newHost(t, "bad", cfg, Options{})
	cfg.Bootstrap = h2.Addrs()
	h3 := newHost(t, "h3", cfg, Options{})

	var topics []*Topic
	for _, h := range []*Host{h1, h2, h3, bad} {
		tp, err := h.Join("votes", validate)
		if err != nil {
			t.Fatal(err)
		}
		topics = append(topics, tp)
	}
	t1, t2, t3, tb := topics[0], topics[1], topics[2], topics[3]
	meshReady(t, 20*time.Second, topics...)

	for i := range 10 {
		if err := tb.Publish([]byte(fmt.Sprintf("bad-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	badID, _ := peer.Decode(bad.ID())
	waitFor(t, 15*time.Second, "h1 to disconnect the bad peer for its score", func() bool {
		return counter(h1.met.Disconnects.WithLabelValues("score")) == 1 && !hasPeer(h1, bad.ID()) && bad.PeerCount() == 0
	})
	if got := counter(h1.met.Messages.WithLabelValues("votes", "reject")); got < 4 {
		t.Errorf("h1 rejected %v messages, want at least 4", got)
	}
	// Honest peers still talk, both ways along the line.
	if err := t3.Publish([]byte("good from h3")); err != nil {
		t.Fatal(err)
	}
	receive(t, t1.Messages(), 10*time.Second, "good from h3")
	if err := t1.Publish([]byte("good from h1")); err != nil {
		t.Fatal(err)
	}
	receive(t, t3.Messages(), 10*time.Second, "good from h1")

	// Nothing bad was delivered or relayed: h2 and h3 never saw it.
	for i, tp := range []*Topic{t1, t2, t3} {
		for _, d := range drain(tp.Messages()) {
			if strings.HasPrefix(d, "bad") {
				t.Errorf("honest host %d delivered %q", i+1, d)
			}
		}
	}
	for _, h := range []*Host{h2, h3} {
		if got := counter(h.met.Messages.WithLabelValues("votes", "reject")); got != 0 {
			t.Errorf("a rejected message reached a host behind h1 (%v rejections)", got)
		}
	}
	// The gater refuses the bad peer while it is banned.
	if !h1.gater.banned(badID) {
		t.Fatal("bad peer not banned")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ai, _ := peer.AddrInfoFromString(h1.Addrs()[0])
	if err := bad.host.Connect(ctx, *ai); err == nil {
		h1ID, _ := peer.Decode(h1.ID())
		waitFor(t, 5*time.Second, "h1 to refuse the banned peer", func() bool {
			return len(bad.host.Network().ConnsToPeer(h1ID)) == 0
		})
	}
	if hasPeer(h1, bad.ID()) {
		t.Fatal("h1 lists the banned peer again")
	}
}

// A message older than MaxAge is ignored by the first hop and never reaches
// the next. The line is a–b–c; a's clock is moved back by twice MaxAge once
// the mesh is ready.
func TestExpiredMessageIsNotRelayed(t *testing.T) {
	var skew atomic.Int64
	skewed := func() time.Time { return time.Now().Add(-time.Duration(skew.Load())) }
	cfg := testConfig()
	cfg.DHT = false
	b := newHost(t, "eb", cfg, Options{})
	cfg.Bootstrap = b.Addrs()
	a := newHost(t, "ea", cfg, Options{Now: skewed})
	c := newHost(t, "ec", cfg, Options{})

	var topics []*Topic
	for _, h := range []*Host{a, b, c} {
		tp, err := h.Join("blocks", nil)
		if err != nil {
			t.Fatal(err)
		}
		topics = append(topics, tp)
	}
	ta, tb, tc := topics[0], topics[1], topics[2]
	meshReady(t, 20*time.Second, topics...)
	if slices.Contains(tc.Peers(), a.ID()) {
		t.Fatal("a and c are connected; the test needs a line")
	}

	skew.Store(int64(2 * cfg.MaxAge()))
	if err := ta.Publish([]byte("stale")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "b to ignore the stale message", func() bool {
		return counter(b.met.Ignored.WithLabelValues("blocks", "expired")) >= 1
	})
	if got := counter(b.met.Messages.WithLabelValues("blocks", "ignore")); got < 1 {
		t.Errorf("b counted %v ignored messages", got)
	}
	// A fresh message from b reaches c, so the line works; the stale one,
	// published before it, never came.
	if err := tb.Publish([]byte("fresh")); err != nil {
		t.Fatal(err)
	}
	receive(t, tc.Messages(), 10*time.Second, "fresh")
	for _, tp := range []*Topic{tb, tc} {
		if slices.Contains(drain(tp.Messages()), "stale") {
			t.Fatal("stale message delivered")
		}
	}
	// For a, b's message is from the future beyond the tolerated disparity.
	waitFor(t, 10*time.Second, "a to ignore b's message as from the future", func() bool {
		return counter(a.met.Ignored.WithLabelValues("blocks", "future")) >= 1
	})
}

// A payload over the receiver's MaxMessageBytes is rejected; Publish
// refuses one over the sender's.
func TestOversizedMessageRejected(t *testing.T) {
	cfg := testConfig()
	cfg.DHT = false
	cfg.MaxMessageBytes = 1024
	small := newHost(t, "small", cfg, Options{})
	big := cfg
	big.MaxMessageBytes = 8192
	big.Bootstrap = small.Addrs()
	large := newHost(t, "large", big, Options{})
	ts, err := small.Join("tx", nil)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := large.Join("tx", nil)
	if err != nil {
		t.Fatal(err)
	}
	meshReady(t, 20*time.Second, ts, tl)
	if err := ts.Publish(make([]byte, 1025)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("Publish over the limit = %v, want ErrMessageTooLarge", err)
	}
	if err := tl.Publish(bytes.Repeat([]byte{'x'}, 2000)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the small host to reject the oversized message", func() bool {
		return counter(small.met.Messages.WithLabelValues("tx", "reject")) == 1
	})
}
