package p2p

import (
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

// outbound bounds the gossip waiting to be sent to each peer. GossipSub
// queues up to peerOutboundQueue RPCs a peer, of up to a full message
// each, and bounds them in number only; a peer that stops reading would
// keep every message relayed to it alive. outbound is a tracer of the
// router that counts the bytes of the RPCs queued for each peer (added as
// they are queued, removed as each is written to the stream) and
// disconnects a peer
//
//   - whose queue holds more than Config.PeerQueueBytes, at once, or
//   - that has had gossip waiting, and taken none of it, for
//     Config.SlowPeerTimeout,
//
// with the disconnect reason "slow", and no ban: a slow peer may be honest
// and reconnect at once, with an empty queue. A queue the router closes
// (its stream failed) is forgotten with what it held, and so is the queue
// of a peer that disconnects.
type outbound struct {
	limit   int
	timeout time.Duration
	met     *Metrics
	// disconnect is Host.drop; it must not call into the router.
	disconnect func(p peer.ID, reason string, cause error)

	mu    sync.Mutex
	peers map[peer.ID]*outQueue
}

// outQueue is what is known of one peer's queue.
type outQueue struct {
	bytes int
	rpcs  map[*pubsub.RPC]int // queued, by size
	// early holds the RPCs written before they were seen queued: the
	// router queues an RPC before it tells the tracer, and the writer may
	// take it in between. It also holds the router's first message on a
	// stream, which is written without being queued; so it is bounded.
	early map[*pubsub.RPC]bool
	since time.Time // the last write completed, or the queue was empty
	over  bool      // disconnected for it
}

// maxEarly bounds outQueue.early; idleQueue is how long an empty queue is
// remembered (a write may complete after its peer left, and is then
// remembered for nothing).
const (
	maxEarly  = 64
	idleQueue = time.Minute
)

func newOutbound(limit int, timeout time.Duration, met *Metrics, disconnect func(peer.ID, string, error)) *outbound {
	return &outbound{limit: limit, timeout: timeout, met: met, disconnect: disconnect, peers: make(map[peer.ID]*outQueue)}
}

// SendRPC: rpc was queued for p.
func (o *outbound) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	size := proto.Size(&rpc.RPC)
	o.mu.Lock()
	q := o.get(p)
	if q.early[rpc] {
		delete(q.early, rpc) // already written
		o.mu.Unlock()
		return
	}
	if q.bytes == 0 {
		q.since = time.Now()
	}
	q.rpcs[rpc] += size
	q.bytes += size
	over := q.bytes > o.limit && !q.over
	if over {
		q.over = true
	}
	held := q.bytes
	o.mu.Unlock()
	if over {
		o.disconnect(p, "slow", fmt.Errorf("%d bytes of gossip waiting for the peer, limit %d", held, o.limit))
	}
}

// SendRPCCompleted: rpc was written to p's stream.
func (o *outbound) SendRPCCompleted(rpc *pubsub.RPC, p peer.ID, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.get(p)
	if size, ok := q.rpcs[rpc]; ok {
		delete(q.rpcs, rpc)
		q.bytes -= size
	} else {
		if len(q.early) >= maxEarly {
			clear(q.early)
		}
		q.early[rpc] = true
	}
	q.since = time.Now()
}

// get returns p's queue, creating it; o.mu is held.
func (o *outbound) get(p peer.ID) *outQueue {
	q := o.peers[p]
	if q == nil {
		q = &outQueue{rpcs: make(map[*pubsub.RPC]int), early: make(map[*pubsub.RPC]bool)}
		o.peers[p] = q
	}
	return q
}

// DropRPC: an RPC for p did not fit its queue.
func (o *outbound) DropRPC(_ *pubsub.RPC, _ peer.ID) { o.met.OutboundDropped.Inc() }

// OnClosedOutboundStream: the router closed p's queue.
func (o *outbound) OnClosedOutboundStream(p peer.ID) { o.forget(p) }

func (o *outbound) forget(p peer.ID) {
	o.mu.Lock()
	delete(o.peers, p)
	o.mu.Unlock()
}

// check disconnects the peers that have taken none of their gossip for the
// timeout, and sets the queued-bytes gauge.
func (o *outbound) check(now time.Time) {
	type stalled struct {
		p     peer.ID
		bytes int
		for_  time.Duration
	}
	var slow []stalled
	total := 0
	o.mu.Lock()
	for p, q := range o.peers {
		if q.bytes == 0 && now.Sub(q.since) > idleQueue {
			delete(o.peers, p) // idle, or its peer gone
			continue
		}
		total += q.bytes
		if q.bytes > 0 && !q.over && now.Sub(q.since) > o.timeout {
			q.over = true
			slow = append(slow, stalled{p, q.bytes, now.Sub(q.since)})
		}
	}
	o.mu.Unlock()
	o.met.OutboundQueued.Set(float64(total))
	for _, s := range slow {
		o.disconnect(s.p, "slow", fmt.Errorf("%d bytes of gossip waiting, none taken for %s", s.bytes, s.for_.Round(time.Millisecond)))
	}
}

// The rest of the tracer is of no interest.

func (o *outbound) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (o *outbound) Join(string)                              {}
func (o *outbound) Leave(string)                             {}
func (o *outbound) Graft(peer.ID, string)                    {}
func (o *outbound) Prune(peer.ID, string)                    {}
func (o *outbound) ValidateMessage(*pubsub.Message)          {}
func (o *outbound) DeliverMessage(*pubsub.Message)           {}
func (o *outbound) RejectMessage(*pubsub.Message, string)    {}
func (o *outbound) DuplicateMessage(*pubsub.Message)         {}
func (o *outbound) ThrottlePeer(peer.ID)                     {}
func (o *outbound) RecvRPC(*pubsub.RPC)                      {}
func (o *outbound) UndeliverableMessage(*pubsub.Message)     {}

var _ pubsub.RawTracer = (*outbound)(nil)
