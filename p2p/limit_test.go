package p2p

import (
	"errors"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(10, 20, t0)
	if !b.take(20, t0) {
		t.Fatal("a full bucket refused its burst")
	}
	if b.take(1, t0) {
		t.Fatal("an empty bucket gave a token")
	}
	if !b.take(5, t0.Add(500*time.Millisecond)) || b.take(1, t0.Add(500*time.Millisecond)) {
		t.Fatal("half a second at 10/s should give 5 tokens, no more")
	}
	b.give(100)
	if b.tokens != 20 {
		t.Fatalf("give filled past the burst: %v", b.tokens)
	}
	if !b.take(20, t0.Add(time.Hour)) || b.take(1, t0.Add(time.Hour)) {
		t.Fatal("an hour refills to the burst, not beyond")
	}
	if !b.take(0, t0) { // time going backwards adds nothing and breaks nothing
		t.Fatal("take(0) refused")
	}
}

func TestServeLimiter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SyncServeRequests = 2
	cfg.SyncServeBytes = 1 * mib
	cfg.SyncServeTotalBytes = 1 * mib
	t0 := time.Unix(1000, 0)
	l := newServeLimiter(cfg, t0)
	a, b := peer.ID("a"), peer.ID("b")
	burst := syncBytesBurst(cfg.SyncServeBytes) // 64 MiB

	// Requests: two a second from a.
	if ok, _ := l.admit(a, 0, t0); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.admit(a, 0, t0); !ok {
		t.Fatal("second request refused")
	}
	if ok, why := l.admit(a, 0, t0); ok || why != refusedRequests {
		t.Fatalf("third request in the same instant: %v %q", ok, why)
	}
	// Bytes: b reserves the whole burst, is given half back, reserves it
	// again; then the total (shared with a) has nothing left.
	cfg.SyncServeRequests = 100
	l = newServeLimiter(cfg, t0)
	if ok, _ := l.admit(b, burst, t0); !ok {
		t.Fatal("a reservation of the burst refused")
	}
	l.settle(b, burst/2)
	if ok, _ := l.admit(b, burst/2, t0); !ok {
		t.Fatal("the unused half was not given back")
	}
	if ok, why := l.admit(b, 1, t0); ok || why != refusedBytes {
		t.Fatalf("b past its bytes: %v %q", ok, why)
	}
	t1 := t0.Add(time.Second) // a's own bytes are untouched, the total is not
	if ok, why := l.admit(a, 2*mib, t1); ok || why != refusedTotal {
		t.Fatalf("a past the total: %v %q", ok, why)
	}
	if ok, _ := l.admit(a, 1*mib, t1); !ok {
		t.Fatal("a second at 1 MiB/s did not allow 1 MiB")
	}
	l.forget(a)
	if len(l.peers) != 1 {
		t.Fatalf("%d peers after forget", len(l.peers))
	}
}

func TestSyncBudget(t *testing.T) {
	for _, c := range []struct{ max, block, want int }{
		{256, 4 * mib, MaxSyncResponseBytes},
		{1, 4 * mib, 4 * mib},
		{3, 1000, 3000},
		{256, MaxSyncResponseBytes, MaxSyncResponseBytes},
	} {
		if got := syncBudget(c.max, c.block); got != c.want {
			t.Errorf("syncBudget(%d, %d) = %d, want %d", c.max, c.block, got, c.want)
		}
	}
}

func TestPenaltiesDecay(t *testing.T) {
	ps := newPenalties()
	t0 := time.Unix(1000, 0)
	p := peer.ID("p")
	if got := ps.add(p, 800, t0); got != 800 {
		t.Fatalf("add = %v", got)
	}
	if got := ps.get(p, t0.Add(penaltyHalfLife)); got < 399 || got > 401 {
		t.Fatalf("after one half-life %v, want 400", got)
	}
	if got := ps.add(p, 600, t0.Add(penaltyHalfLife)); got < penaltyLimit-1 || got > penaltyLimit+1 {
		t.Fatalf("400 + 600 = %v", got)
	}
	// The table forgets decayed entries once it is full.
	for i := range maxPenalised {
		ps.add(peer.ID(fmt.Sprint(i)), 1, t0)
	}
	ps.add(peer.ID("late"), 1, t0.Add(20*penaltyHalfLife))
	if len(ps.m) > 3 {
		t.Fatalf("%d entries kept after the rest decayed", len(ps.m))
	}
}

func subOpts(subscribe bool, topics ...string) []*pb.RPC_SubOpts {
	var out []*pb.RPC_SubOpts
	for _, tp := range topics {
		out = append(out, &pb.RPC_SubOpts{Subscribe: proto.Bool(subscribe), Topicid: proto.String(tp)})
	}
	return out
}

func TestTopicFilter(t *testing.T) {
	type penalty struct {
		points float64
		reason string
	}
	var got []penalty
	penalise := func(_ peer.ID, points float64, reason string, cause error) {
		if !errors.Is(cause, ErrTopicRefused) {
			t.Errorf("cause %v is not ErrTopicRefused", cause)
		}
		got = append(got, penalty{points, reason})
	}
	name := func(n string) string { return TopicName(testChainID, n) }
	verified := func(p peer.ID) bool { return p != "stranger" }
	listed := newTopicFilter(testChainID, []string{"blocks", "votes/0"}, penalise, verified)
	open := newTopicFilter(testChainID, nil, penalise, verified)
	for _, c := range []struct {
		name   string
		f      *topicFilter
		topic  string
		wantOK bool
	}{
		{"listed", listed, name("blocks"), true},
		{"listed subnet", listed, name("votes/0"), true},
		{"not listed", listed, name("votes/1"), false},
		{"another chain", listed, TopicName(testChainID+1, "blocks"), false},
		{"open: any name", open, name("votes/1"), true},
		{"open: another chain", open, TopicName(testChainID+1, "blocks"), false},
		{"open: empty name", open, name(""), false},
		{"open: long name", open, name(string(make([]byte, maxTopicNameLen+1))), false},
		{"open: bad byte", open, name("a b"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ok := c.f.CanSubscribe(c.topic); ok != c.wantOK {
				t.Fatalf("CanSubscribe(%q) = %v", c.topic, ok)
			}
		})
	}

	p := peer.ID("p")
	got = nil
	kept, err := listed.FilterIncomingSubscriptions(p, subOpts(true, name("blocks"), name("junk"), name("junk2")))
	if err != nil || len(kept) != 1 || kept[0].GetTopicid() != name("blocks") {
		t.Fatalf("kept %v, %v", kept, err)
	}
	if len(got) != 1 || got[0] != (penalty{2 * inventedTopicPenalty, "topics"}) {
		t.Fatalf("penalties %v", got)
	}
	// A peer not yet verified is refused the same, without penalty.
	got = nil
	if kept, _ := listed.FilterIncomingSubscriptions("stranger", subOpts(true, name("junk"))); len(kept) != 0 || len(got) != 0 {
		t.Fatalf("kept %v, penalties %v", kept, got)
	}
	got = nil
	many := make([]string, maxSubscriptionsPerRPC+1)
	for i := range many {
		many[i] = name("blocks")
	}
	if _, err := listed.FilterIncomingSubscriptions(p, subOpts(true, many...)); !errors.Is(err, pubsub.ErrTooManySubscriptions) {
		t.Fatalf("an RPC of %d subscriptions: %v", len(many), err)
	}
	if len(got) != 1 || got[0].points != penaltyLimit {
		t.Fatalf("penalties %v", got)
	}

	// The per-peer cap, and unsubscribing makes room.
	got = nil
	q := peer.ID("q")
	for i := range maxTopicsPerPeer {
		if kept, _ := open.FilterIncomingSubscriptions(q, subOpts(true, name(fmt.Sprint("t", i)))); len(kept) != 1 {
			t.Fatalf("subscription %d refused", i)
		}
	}
	if kept, _ := open.FilterIncomingSubscriptions(q, subOpts(true, name("one-more"))); len(kept) != 0 {
		t.Fatal("a subscription past the cap was kept")
	}
	if kept, _ := open.FilterIncomingSubscriptions(q, subOpts(true, name("t0"))); len(kept) != 1 {
		t.Fatal("a repeated subscription was refused")
	}
	if kept, _ := open.FilterIncomingSubscriptions(q, subOpts(false, name("t0"))); len(kept) != 1 {
		t.Fatal("an unsubscription was refused")
	}
	if kept, _ := open.FilterIncomingSubscriptions(q, subOpts(true, name("one-more"))); len(kept) != 1 {
		t.Fatal("no room after an unsubscription")
	}
	if len(got) != 1 || got[0].points != inventedTopicPenalty {
		t.Fatalf("penalties %v", got)
	}
	open.forget(q)
	if len(open.subs) != 0 {
		t.Fatal("forget kept the peer")
	}
}

func TestWithheld(t *testing.T) {
	h := &Host{cfg: DefaultConfig()}
	blocks := func(n, size int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = make([]byte, size)
		}
		return out
	}
	for _, c := range []struct {
		name       string
		from       uint64
		max        int
		advertised uint64
		blocks     [][]byte
		withheld   bool
	}{
		{"all asked for", 10, 32, 100, blocks(32, 100), false},
		{"up to the head", 90, 32, 100, blocks(11, 100), false},
		{"beyond the head, empty", 101, 32, 100, nil, false},
		{"empty for advertised heights", 10, 32, 100, nil, true},
		{"short with room", 10, 32, 100, blocks(5, 100), true},
		{"short at the budget", 10, 32, 100, blocks(10, 3*mib), false},
		{"short of the head", 95, 32, 100, blocks(5, 100), true},
		{"unverified peer", 10, 32, 0, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := h.withheld(c.from, c.max, c.advertised, c.blocks) != ""; got != c.withheld {
				t.Fatalf("withheld = %v", got)
			}
		})
	}
}
