package node

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
)

// Gossip topics (p2p scopes them by chain id and protocol version).
const (
	topicProposals    = "proposals"
	topicVotes        = "votes"
	topicAggregates   = "aggregates"
	topicTimeouts     = "timeouts"
	topicCertificates = "certificates"
	topicTxs          = "transactions"
)

// consensusTopics are the topics every validator joins.
var consensusTopics = []string{topicProposals, topicVotes, topicAggregates, topicTimeouts, topicCertificates}

// topicOf is the topic a consensus message travels on.
func topicOf(k consensus.Kind) string {
	switch k {
	case consensus.KindProposal:
		return topicProposals
	case consensus.KindVote:
		return topicVotes
	case consensus.KindAggregate:
		return topicAggregates
	case consensus.KindTimeout, consensus.KindTC:
		return topicTimeouts
	case consensus.KindQC:
		return topicCertificates
	}
	return ""
}

// voteSubnet names committee k's vote topic.
func voteSubnet(k int) string { return fmt.Sprintf("%s/%d", topicVotes, k) }

// subnetCheck is how often the node checks that it follows its committee's
// vote subnet as committees are reshuffled each epoch.
const subnetCheck = 200 * time.Millisecond

// consensusGossip carries consensus messages over gossip topics: one topic
// per message kind, and with several committees a vote subnet per
// committee, which this validator follows across epochs. A message is
// checked before it is relayed (gossipCheck: it decodes, belongs on its
// topic and near the committed height, and is signed, bound and certified
// as its kind requires), and every body accepted is handed to the driver
// once (the core decides which concern this validator). The wire and the
// message identity are described in wire.go; sends of one body get
// successive attempts (attempts).
type consensusGossip struct {
	self       uint32
	committees func() *consensus.Committees
	log        *slog.Logger
	msgs       chan *consensus.Message // lives across runs
	check      *gossipCheck
	attempts   *attempts
	m          *gossipMetrics

	mu     sync.RWMutex
	topics map[string]*p2p.Topic // of the current run
	subnet int                   // committee whose vote subnet is joined, -1 for none
}

// consensusInbox is the number of messages waiting for the driver before
// more are dropped; the protocol recovers from losses.
const consensusInbox = 8192

// consensusGossipParams are what consensus gossip checks messages with.
type consensusGossipParams struct {
	self   uint32
	tag    consensus.Hash
	vals   *consensus.ValidatorSet
	crypto consensus.Crypto // the node's, behind its VerifyCache
	// head returns the committed height.
	head func() uint64
	// committees returns the committees of the epoch being decided, of
	// epochLength heights.
	committees  func() *consensus.Committees
	epochLength uint64
	// bound receives the blocks of the proposals accepted (nil: none).
	bound *boundBlocks
	log   *slog.Logger
	reg   prometheus.Registerer
}

func newConsensusGossip(p consensusGossipParams) *consensusGossip {
	m := newGossipMetrics(p.reg, p.crypto)
	return &consensusGossip{
		self: p.self, committees: p.committees, log: p.log, m: m,
		check:    newGossipCheck(p.self, p.tag, p.vals, p.crypto, p.head, p.committees, p.epochLength, p.bound, m),
		attempts: newAttempts(time.Now),
		msgs:     make(chan *consensus.Message, consensusInbox), topics: map[string]*p2p.Topic{}, subnet: -1,
	}
}

// start joins the consensus topics on the run's host and follows the vote
// subnet.
func (g *consensusGossip) start(run *netRun) error {
	for _, name := range consensusTopics {
		t, err := run.host.Join(name, g.validate(name, -1))
		if err != nil {
			return fmt.Errorf("node: join %s: %w", name, err)
		}
		g.mu.Lock()
		g.topics[name] = t
		g.mu.Unlock()
		g.read(run, t)
	}
	run.every(subnetCheck, func() { g.followSubnet(run) })
	return nil
}

// stop forgets the run's topics (the host that held them is closed).
func (g *consensusGossip) stop() {
	g.mu.Lock()
	g.topics = map[string]*p2p.Topic{}
	g.subnet = -1
	g.mu.Unlock()
}

// send publishes a message on its topic with the next attempt of its
// body; nothing while stopped, or once the body has used every attempt
// within the seen-message window (its copies would be dropped as
// duplicates).
func (g *consensusGossip) send(run *netRun, to []uint32, m *consensus.Message) {
	if run == nil {
		return
	}
	t := g.topicFor(to, m)
	if t == nil {
		return
	}
	data := encodeWire(0, m)
	key := wireKey(data) // the body's, whatever the attempt
	attempt, ok := g.attempts.next(t.Name(), key)
	if !ok {
		g.m.ResendsDropped.Inc()
		return
	}
	data[1] = attempt
	g.check.sent(data, key)
	if err := t.Publish(data); err != nil && run.ctx.Err() == nil {
		g.log.Debug("publish failed", "kind", m.Kind, "err", err)
	}
}

// topicFor is the topic a message to `to` travels on: a vote to its
// committee's aggregator goes on the committee's subnet (when this node is
// in it, as the voter always is, once it has joined); everything else on
// the message kind's topic.
func (g *consensusGossip) topicFor(to []uint32, m *consensus.Message) *p2p.Topic {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if m.Kind == consensus.KindVote && len(to) == 1 && g.subnet >= 0 {
		if c := g.committees(); c != nil && c.Count() > 1 && c.Of(to[0]) == g.subnet && c.Of(m.Vote.Validator) == g.subnet {
			if t := g.topics[voteSubnet(g.subnet)]; t != nil {
				return t
			}
		}
	}
	return g.topics[topicOf(m.Kind)]
}

// followSubnet joins this node's committee's vote subnet and leaves the
// one it had, when the committees changed.
func (g *consensusGossip) followSubnet(run *netRun) {
	want := -1
	if c := g.committees(); c != nil && c.Count() > 1 {
		want = c.Of(g.self)
	}
	g.mu.RLock()
	have := g.subnet
	g.mu.RUnlock()
	if want == have {
		return
	}
	var joined *p2p.Topic
	if want >= 0 {
		var err error
		if joined, err = run.host.Join(voteSubnet(want), g.validate(topicVotes, want)); err != nil {
			g.log.Warn("join vote subnet", "committee", want, "err", err)
			return
		}
	}
	g.mu.Lock()
	old := g.topics[voteSubnet(have)]
	delete(g.topics, voteSubnet(have))
	if joined != nil {
		g.topics[voteSubnet(want)] = joined
	}
	g.subnet = want
	g.mu.Unlock()
	if old != nil {
		old.Leave()
	}
	if joined != nil {
		g.read(run, joined)
	}
	g.log.Debug("vote subnet", "committee", want, "left", have)
}

// validate is the validator of a topic: of a message kind's, or of
// committee subnet's vote subnet (-1 for none). See gossipCheck.
func (g *consensusGossip) validate(topic string, subnet int) func(string, []byte) p2p.Verdict {
	return func(_ string, data []byte) p2p.Verdict { return g.check.validate(topic, subnet, data) }
}

// read hands the driver the first accepted copy of each message body.
func (g *consensusGossip) read(run *netRun, t *p2p.Topic) {
	run.wg.Add(1)
	go func() {
		defer run.wg.Done()
		for {
			var msg p2p.Message
			var ok bool
			select {
			case <-run.ctx.Done():
				return
			case msg, ok = <-t.Messages():
				if !ok {
					return // left, or the host closed
				}
			}
			m := g.check.deliver(msg.Data)
			if m == nil {
				continue
			}
			select {
			case g.msgs <- m:
			default: // the protocol recovers from a lost message
				g.m.InboxDropped.Inc()
			}
		}
	}()
}
