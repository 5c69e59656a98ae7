package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

func listsPeer(h *Host, topic, id string) bool {
	return slices.ContainsFunc(h.ps.ListPeers(topic), func(p peer.ID) bool { return p.String() == id })
}

// topicTarget is a host allowing and joined to the one topic "blocks",
// and a raw peer that reads its gossip, has passed its handshake, and has
// opened a gossip stream to it.
func topicTarget(t *testing.T) (*Host, *rawPeer, network.Stream) {
	t.Helper()
	cfg := testConfig()
	cfg.DHT = false
	target := newHost(t, "target", cfg, Options{Topics: []string{"blocks"}})
	if _, err := target.Join("blocks", nil); err != nil {
		t.Fatal(err)
	}
	raw := newRawPeer(t, statusAnswer, 0)
	raw.readGossip()
	raw.connectVerified(target)
	return target, raw, raw.gossipStream(target)
}

// 100,000 invented topics announced in RPCs of 15,000 (GossipSub reads
// at most 512 KiB of subscriptions and control in one RPC) are refused and
// their sender disconnected at the first RPC; before the fix every topic
// went into the router's table and stayed there until the peer left.
func TestInventedTopicsAreRefused(t *testing.T) {
	const n = 100_000
	target, raw, s := topicTarget(t)

	topics := make([]string, n)
	for i := range topics {
		topics[i] = TopicName(testChainID, fmt.Sprintf("junk-%06d", i))
	}
	const perRPC = 15_000
	before := heapInUse()
	rpcs, size := 0, 0
	for i := 0; i < n; i += perRPC {
		rpc := subscribeRPC(true, topics[i:min(i+perRPC, n)]...)
		if err := tryWriteRPC(s, rpc); err != nil {
			break // disconnected
		}
		rpcs++
		size += proto.Size(rpc)
	}
	last := topics[n-1]
	waitFor(t, 20*time.Second, "the RPC to be handled", func() bool {
		return listsPeer(target, last, raw.id()) || !hasPeer(target, raw.id())
	})
	after := heapInUse()
	listed := 0
	for _, tp := range topics[:1000] {
		if listsPeer(target, tp, raw.id()) {
			listed++
		}
	}
	t.Logf("%d RPCs (%d bytes) announcing %d invented topics: %d of the first 1,000 in the router's table; heap %.1f MiB -> %.1f MiB (%+.1f MiB); still listed: %v; disconnects{topics} %v",
		rpcs, size, n, listed, float64(before)/mib, float64(after)/mib, (float64(after)-float64(before))/mib,
		hasPeer(target, raw.id()), counter(target.met.Disconnects.WithLabelValues("topics")))
	if listed != 0 {
		t.Fatalf("%d invented topics were accepted", listed)
	}
	waitFor(t, 5*time.Second, "the peer to be disconnected", func() bool { return !raw.connected(target) })
	if got := counter(target.met.Disconnects.WithLabelValues("topics")); got != 1 {
		t.Errorf("disconnects{topics} = %v, want 1", got)
	}
}

// A peer that announces a few invented topics beside a real one keeps the
// real one, has the others refused, and is penalised for each: a few such
// announcements disconnect it.
func TestInventedTopicsArePenalised(t *testing.T) {
	target, raw, s := topicTarget(t)
	real := TopicName(testChainID, "blocks")
	foreign := TopicName(testChainID+1, "blocks") // another chain's
	writeRPC(t, s, subscribeRPC(true, real, TopicName(testChainID, "junk-0"), foreign))
	waitFor(t, 10*time.Second, "the real subscription", func() bool { return listsPeer(target, real, raw.id()) })
	if listsPeer(target, TopicName(testChainID, "junk-0"), raw.id()) || listsPeer(target, foreign, raw.id()) {
		t.Fatal("an invented topic was accepted beside the real one")
	}
	if !hasPeer(target, raw.id()) {
		t.Fatal("two invented topics disconnected the peer")
	}
	first := target.penalty(raw.h.ID())
	rpcs := 0
	for ; rpcs < 20 && raw.connected(target); rpcs++ {
		if tryWriteRPC(s, subscribeRPC(true, TopicName(testChainID, fmt.Sprintf("junk-%d", rpcs+1)))) != nil {
			break
		}
		waitFor(t, 5*time.Second, "the penalty", func() bool {
			return target.penalty(raw.h.ID()) > first || !raw.connected(target)
		})
		first = target.penalty(raw.h.ID())
	}
	t.Logf("disconnected after %d more RPCs of one invented topic each; disconnects{topics} %v",
		rpcs, counter(target.met.Disconnects.WithLabelValues("topics")))
	waitFor(t, 5*time.Second, "the peer to be disconnected", func() bool { return !raw.connected(target) })
}

// A peer that subscribes and then stops reading while others publish
// large messages: its queue is bounded in bytes and it is disconnected;
// before the fix it pinned every message relayed to it.
func TestStalledReaderIsDisconnected(t *testing.T) {
	const (
		msgSize = 1 * mib
		msgs    = 48
	)
	cfg := testConfig()
	cfg.DHT = false
	cfg.MaxMessageBytes = 2 * mib
	cfg.PeerQueueBytes = 8 * mib
	cfg.MessageBuffer = 4
	victim := newHost(t, "victim", cfg, Options{})
	vt, err := victim.Join("blocks", nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := cfg
	pcfg.Bootstrap = victim.Addrs()[:1]
	// The publisher's own queue to the victim is not under test: a victim
	// slowed by the race detector may let it grow past the victim's limit.
	pcfg.PeerQueueBytes = 64 * mib
	publisher := newHost(t, "publisher", pcfg, Options{})
	pt, err := publisher.Join("blocks", nil)
	if err != nil {
		t.Fatal(err)
	}
	meshReady(t, 15*time.Second, vt, pt)

	raw := newRawPeer(t, statusAnswer, 0)
	raw.stallGossip()
	raw.connectVerified(victim)
	s := raw.gossipStream(victim)
	full := TopicName(testChainID, "blocks")
	writeRPC(t, s, subscribeRPC(true, full))
	waitFor(t, 10*time.Second, "the stalled peer's subscription", func() bool { return topicHasPeer(vt, raw.id()) })
	graft := &pb.RPC{Control: &pb.ControlMessage{Graft: []*pb.ControlGraft{{TopicID: proto.String(full)}}}}
	writeRPC(t, s, graft)

	before := heapInUse()
	payload := bytes.Repeat([]byte{0x5a}, msgSize)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	disconnectedAt, failed := -1, 0
	for i := range msgs {
		payload[0] = byte(i) // distinct messages
		if err := pt.Publish(payload); err != nil {
			// A starved machine can take longer than a message's age
			// bound to validate it; it is then not sent.
			failed++
			t.Logf("publish %d: %v", i, err)
		}
		if disconnectedAt < 0 && !raw.connected(victim) {
			disconnectedAt = i
		}
		<-tick.C
	}
	// The byte limit cuts the stalled peer off after eight messages; on a
	// starved machine the victim may relay fewer, and SlowPeerTimeout
	// (10 s) cuts it off.
	waitFor(t, 2*cfg.SlowPeerTimeout, "the stalled peer to be disconnected", func() bool { return !raw.connected(victim) })
	// Let the router's message cache and the victim's deliveries expire:
	// what is left is what the stalled peer's queue holds.
	settle := time.Now().Add(3 * time.Second)
	waitFor(t, 10*time.Second, "the message cache to expire", func() bool { return time.Now().After(settle) })
	after := heapInUse()
	grew := (float64(after) - float64(before)) / mib
	t.Logf("%d messages of %d KiB published while a subscriber read nothing: heap %.1f MiB -> %.1f MiB (%+.1f MiB); stalled peer connected: %v (disconnected after message %d); disconnects{slow} %v",
		msgs, msgSize>>10, float64(before)/mib, float64(after)/mib, grew, raw.connected(victim), disconnectedAt,
		counter(victim.met.Disconnects.WithLabelValues("slow")))
	if failed > msgs/2 {
		t.Fatalf("%d of %d publications failed: the test proves nothing", failed, msgs)
	}
	if raw.connected(victim) {
		t.Errorf("the stalled peer is still connected")
	}
	if limit := float64(3 * cfg.PeerQueueBytes / mib); grew > limit {
		t.Errorf("the heap grew by %.1f MiB, above %.0f MiB", grew, limit)
	}
	if got := counter(victim.met.Disconnects.WithLabelValues("slow")); got != 1 {
		t.Errorf("disconnects{slow} = %v, want 1", got)
	}
	if !hasPeer(victim, publisher.ID()) {
		t.Error("the publisher was disconnected too")
	}
}

// A peer that opens many DHT streams, each announcing a message of the
// largest size and sending one byte of it, makes the DHT allocate the
// whole message for each stream and hold it for the stream's idle timeout
// (a minute). The resource manager bounds the streams a peer may open on
// the DHT protocol; before the fix it admitted 64 a peer, and the heap
// grew by 4 MiB for each.
func TestDHTStreamsAreBounded(t *testing.T) {
	const streams = 32
	cfg := testConfig()
	target := newHost(t, "target", cfg, Options{})
	raw := newRawPeer(t, statusAnswer, 0)
	raw.connectVerified(target)
	kad := dhtPrefix(testChainID) + dhtKadProtocol
	// open counts the DHT streams from raw that are open on target's side.
	open := func() int {
		n := 0
		for _, c := range target.host.Network().ConnsToPeer(raw.h.ID()) {
			for _, s := range c.GetStreams() {
				if s.Protocol() == kad {
					n++
				}
			}
		}
		return n
	}
	before := heapInUse()
	opened := 0
	var lb [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lb[:], uint64(network.MessageSizeMax-1))
	for range streams {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := raw.h.NewStream(ctx, target.host.ID(), kad)
		cancel()
		if err != nil {
			continue
		}
		if _, err := s.Write(append(lb[:n:n], 0)); err != nil {
			_ = s.Reset()
			continue
		}
		t.Cleanup(func() { _ = s.Reset() })
		opened++
	}
	// The server reads each stream's length and allocates as it reads it;
	// wait until the streams it admitted are all open on its side.
	waitFor(t, 10*time.Second, "the streams to reach the server", func() bool {
		n := open()
		return n > 0 && n <= opened
	})
	settle := time.Now().Add(500 * time.Millisecond)
	waitFor(t, 5*time.Second, "the reads to start", func() bool { return time.Now().After(settle) })
	after := heapInUse()
	grew := (float64(after) - float64(before)) / mib
	admitted := open()
	t.Logf("%d DHT streams asked for, %d admitted, each announcing a %d-byte message: heap %.1f MiB -> %.1f MiB (%+.1f MiB)",
		streams, admitted, network.MessageSizeMax-1, float64(before)/mib, float64(after)/mib, grew)
	if admitted > rcDHTPeerStreams/2 {
		t.Errorf("%d DHT streams admitted from one peer, limit %d", admitted, rcDHTPeerStreams/2)
	}
	if limit := float64(rcDHTPeerStreams/2*4 + 8); grew > limit {
		t.Errorf("the heap grew by %.1f MiB, above %.0f MiB", grew, limit)
	}
}
