package p2p

import (
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

func TestOutboundAccounting(t *testing.T) {
	var cut []peer.ID
	met := NopMetrics()
	o := newOutbound(10_000, 5*time.Second, met, func(p peer.ID, reason string, _ error) {
		if reason != "slow" {
			t.Errorf("reason %q", reason)
		}
		cut = append(cut, p)
	})
	rpc := func(n int) *pubsub.RPC {
		return &pubsub.RPC{RPC: pb.RPC{Publish: []*pb.Message{{Data: make([]byte, n), Topic: proto.String("t")}}}}
	}
	a, b := peer.ID("a"), peer.ID("b")
	r1, r2 := rpc(4000), rpc(4000)
	o.SendRPC(r1, a)
	o.SendRPC(r2, a)
	o.SendRPC(r1, b) // one RPC queued for two peers counts for each
	if got := o.peers[a].bytes; got < 8000 || got > 8100 {
		t.Fatalf("a holds %d bytes", got)
	}
	o.SendRPCCompleted(r1, a, 0)
	o.SendRPCCompleted(rpc(10), a, 0) // not queued (the router's hello): ignored
	// The writer may take an RPC before the router tells the tracer it
	// queued it: it is not counted when the tracer hears of it.
	r3 := rpc(3000)
	o.SendRPCCompleted(r3, a, 0)
	o.SendRPC(r3, a)
	if got := o.peers[a].bytes; got < 4000 || got > 4050 {
		t.Fatalf("a holds %d bytes after a write", got)
	}
	o.check(time.Now())
	if len(cut) != 0 {
		t.Fatalf("disconnected %v", cut)
	}
	if got := counter(met.OutboundQueued); got < 8000 {
		t.Fatalf("queued gauge %v", got)
	}
	// Over the byte limit: disconnected at once, and once.
	o.SendRPC(rpc(7000), a)
	o.SendRPC(rpc(7000), a)
	if len(cut) != 1 || cut[0] != a {
		t.Fatalf("disconnected %v", cut)
	}
	// b took nothing for longer than the timeout.
	o.check(time.Now().Add(6 * time.Second))
	if len(cut) != 2 || cut[1] != b {
		t.Fatalf("disconnected %v", cut)
	}
	o.check(time.Now().Add(7 * time.Second))
	if len(cut) != 2 {
		t.Fatalf("disconnected twice: %v", cut)
	}
	o.OnClosedOutboundStream(a)
	o.forget(b)
	if len(o.peers) != 0 {
		t.Fatalf("%d queues left", len(o.peers))
	}
	// A write completing after its peer left is forgotten once idle.
	o.SendRPCCompleted(r1, a, 0)
	o.check(time.Now().Add(2 * idleQueue))
	if len(o.peers) != 0 {
		t.Fatalf("%d queues left after idling", len(o.peers))
	}
	o.DropRPC(r1, a)
	if counter(met.OutboundDropped) != 1 {
		t.Fatal("drop not counted")
	}
}
