package p2p

import (
	"fmt"
	"strings"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Subscription limits. A node subscribes to a handful of topics (the
// consensus topics, transactions and one vote subnet) and announces them
// in one RPC, and later one change of subnet (two entries) at a time.
const (
	// maxSubscriptionsPerRPC bounds the subscriptions one RPC may carry: an
	// RPC with more is ignored whole and its sender disconnected.
	maxSubscriptionsPerRPC = 64
	// maxTopicsPerPeer bounds the topics one peer may be subscribed to at
	// once; subscriptions beyond are refused.
	maxTopicsPerPeer = 64
	// maxTopicNameLen bounds a topic name after the chain's prefix when no
	// list of topics is given.
	maxTopicNameLen = 64
)

// topicFilter is the GossipSub subscription filter: peers may announce
// only the chain's topics, /bizra/<chainid>/1/<name>, with a name from
// Options.Topics (or, without that list, any well-formed name), at most
// maxSubscriptionsPerRPC in one RPC and maxTopicsPerPeer at once. A refused
// topic costs its announcer inventedTopicPenalty points once the peer has
// passed the status handshake (before, it may be a node of another chain
// announcing that chain's topics, which the handshake refuses for what it
// is); an RPC with too many subscriptions is ignored and costs any peer the
// whole penaltyLimit. The router keeps state only for the topics the
// filter lets through.
type topicFilter struct {
	prefix  string
	allowed map[string]bool // full names; nil: any well-formed name
	// penalise is Host.penalise, verified Host.verified; they run on the
	// router's goroutine and must not call into the router.
	penalise func(p peer.ID, points float64, reason string, cause error)
	verified func(p peer.ID) bool

	mu   sync.Mutex
	subs map[peer.ID]map[string]bool // what each peer is subscribed to
}

func newTopicFilter(chainID uint64, names []string, penalise func(peer.ID, float64, string, error), verified func(peer.ID) bool) *topicFilter {
	f := &topicFilter{prefix: TopicName(chainID, ""), penalise: penalise, verified: verified, subs: make(map[peer.ID]map[string]bool)}
	if names != nil {
		f.allowed = make(map[string]bool, len(names))
		for _, n := range names {
			f.allowed[TopicName(chainID, n)] = true
		}
	}
	return f
}

// CanSubscribe reports whether topic is one of the chain's topics.
func (f *topicFilter) CanSubscribe(topic string) bool {
	if f.allowed != nil {
		return f.allowed[topic]
	}
	name, ok := strings.CutPrefix(topic, f.prefix)
	return ok && validTopicName(name)
}

// validTopicName: 1 to maxTopicNameLen letters, digits and . _ - /.
func validTopicName(name string) bool {
	if name == "" || len(name) > maxTopicNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}

// FilterIncomingSubscriptions keeps the subscriptions of an RPC from p
// that the filter allows, penalising p for the others.
func (f *topicFilter) FilterIncomingSubscriptions(p peer.ID, subs []*pb.RPC_SubOpts) ([]*pb.RPC_SubOpts, error) {
	if len(subs) > maxSubscriptionsPerRPC {
		f.penalise(p, penaltyLimit, "topics", fmt.Errorf("%w: %d subscriptions in one RPC, limit %d", ErrTopicRefused, len(subs), maxSubscriptionsPerRPC))
		return nil, pubsub.ErrTooManySubscriptions
	}
	refused, example := 0, ""
	refuse := func(topic string) {
		if refused == 0 {
			example = topic
		}
		refused++
	}
	kept := pubsub.FilterSubscriptions(subs, func(topic string) bool {
		if !f.CanSubscribe(topic) {
			refuse(topic)
			return false
		}
		return true
	})
	f.mu.Lock()
	have := f.subs[p]
	out := kept[:0]
	for _, s := range kept {
		topic := s.GetTopicid()
		if !s.GetSubscribe() {
			delete(have, topic)
			out = append(out, s)
			continue
		}
		if !have[topic] && len(have) >= maxTopicsPerPeer {
			refuse(topic)
			continue
		}
		if have == nil {
			have = make(map[string]bool)
			f.subs[p] = have
		}
		have[topic] = true
		out = append(out, s)
	}
	if len(have) == 0 {
		delete(f.subs, p)
	}
	f.mu.Unlock()
	if refused > 0 && f.verified(p) {
		f.penalise(p, float64(refused*inventedTopicPenalty), "topics",
			fmt.Errorf("%w: %d refused, such as %q", ErrTopicRefused, refused, truncate(example, 100)))
	}
	return out, nil
}

// forget drops a disconnected peer's subscriptions.
func (f *topicFilter) forget(p peer.ID) {
	f.mu.Lock()
	delete(f.subs, p)
	f.mu.Unlock()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
