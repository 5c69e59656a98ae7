package p2p

import (
	"context"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Verdict is a topic validator's decision on a message.
type Verdict int

const (
	// Accept delivers the message and relays it.
	Accept Verdict = iota
	// Ignore drops the message silently: not delivered, not relayed, no
	// penalty for the peer that sent it.
	Ignore
	// Reject drops the message and penalises the peer that sent it in the
	// gossip peer score.
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Ignore:
		return "ignore"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Message is a gossip message accepted on a topic.
type Message struct {
	From string // peer ID of the author (the publishing peer, as signed)
	Data []byte // the payload, without our envelope
}

// Topic is a joined gossip topic.
type Topic struct {
	h        *Host
	name     string // as given to Join
	full     string // scoped: /bizra/<chainid>/1/<name>
	validate func(from string, data []byte) Verdict
	id       func(payload []byte) []byte // TopicOptions.ID
	pt       *pubsub.Topic
	sub      *pubsub.Subscription
	msgs     chan Message

	accepted, ignored, rejected prometheus.Counter
	expired, future, malformed  prometheus.Counter
	published, dropped          prometheus.Counter
	closeOnce                   sync.Once
}

// publishTimeout bounds Publish when the router is busy.
const publishTimeout = 5 * time.Second

// TopicName returns the scoped name of a topic: /bizra/<chainid>/1/<name>.
func TopicName(chainID uint64, name string) string {
	return fmt.Sprintf("/bizra/%d/1/%s", chainID, name)
}

// TopicOptions tune a joined topic.
type TopicOptions struct {
	// ID returns the identity of a payload: copies with one identity are
	// one message, relayed and delivered once within the router's
	// seen-message window, however they are wrapped. It runs on every
	// message received, before validation and under the router's lock, so
	// it must be cheap and defined for any bytes. nil: the payload's hash
	// (the envelope's publish time is not part of a message's identity).
	ID func(payload []byte) []byte
}

// Join subscribes to a topic. validate runs on every message from another
// peer, after the envelope checks and before the message is delivered or
// relayed; nil accepts every message that passes the envelope checks. Its
// from is the peer that delivered the message (not its author, whose key
// costs nothing to change): the peer a Reject penalises, and the one a
// per-peer budget should charge. It is called concurrently and must not
// block for long. Messages published by this host pass only the envelope
// checks.
func (h *Host) Join(name string, validate func(from string, data []byte) Verdict) (*Topic, error) {
	return h.JoinWith(name, validate, TopicOptions{})
}

// JoinWith is Join with options.
func (h *Host) JoinWith(name string, validate func(from string, data []byte) Verdict, opts TopicOptions) (*Topic, error) {
	full := TopicName(h.cfg.ChainID, name)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ok := h.topics[full]; ok {
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrTopicJoined, name)
	}
	if !h.filter.CanSubscribe(full) {
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %q is not in Options.Topics", ErrTopicRefused, name)
	}
	t := &Topic{
		h: h, name: name, full: full, validate: validate, id: opts.ID,
		msgs: make(chan Message, h.cfg.MessageBuffer),
	}
	h.topics[full] = t
	h.mu.Unlock()

	if err := t.open(); err != nil {
		h.mu.Lock()
		delete(h.topics, full)
		h.mu.Unlock()
		t.close()
		return nil, fmt.Errorf("p2p: join %s: %w", name, err)
	}
	if !h.goSafe(t.readLoop) {
		t.close()
		return nil, ErrClosed
	}
	return t, nil
}

func (t *Topic) open() error {
	m := t.h.met
	t.accepted = m.Messages.WithLabelValues(t.name, "accept")
	t.ignored = m.Messages.WithLabelValues(t.name, "ignore")
	t.rejected = m.Messages.WithLabelValues(t.name, "reject")
	t.expired = m.Ignored.WithLabelValues(t.name, "expired")
	t.future = m.Ignored.WithLabelValues(t.name, "future")
	t.malformed = m.Ignored.WithLabelValues(t.name, "malformed")
	t.published = m.Published.WithLabelValues(t.name)
	t.dropped = m.Dropped.WithLabelValues(t.name)

	if err := t.h.ps.RegisterTopicValidator(t.full, pubsub.ValidatorEx(t.check)); err != nil {
		return err
	}
	var topicOpts []pubsub.TopicOpt
	if t.id != nil {
		topicOpts = append(topicOpts, pubsub.WithTopicMessageIdFn(func(m *pb.Message) string {
			return messageID(m.GetTopic(), m.GetData(), t.id)
		}))
	}
	pt, err := t.h.ps.Join(t.full, topicOpts...)
	if err != nil {
		return err
	}
	t.pt = pt
	if err := pt.SetScoreParams(topicScoreParams()); err != nil {
		return err
	}
	sub, err := pt.Subscribe(pubsub.WithBufferSize(t.h.cfg.MessageBuffer))
	if err != nil {
		return err
	}
	t.sub = sub
	return nil
}

// Name returns the topic's name as given to Join.
func (t *Topic) Name() string { return t.name }

// check is the GossipSub validator: the envelope checks, then the
// caller's validator.
func (t *Topic) check(_ context.Context, src peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	v := t.verdict(src, msg)
	switch v {
	case Accept:
		t.accepted.Inc()
		return pubsub.ValidationAccept
	case Ignore:
		t.ignored.Inc()
		return pubsub.ValidationIgnore
	default:
		t.rejected.Inc()
		return pubsub.ValidationReject
	}
}

func (t *Topic) verdict(src peer.ID, msg *pubsub.Message) Verdict {
	local := src == t.h.host.ID()
	publishMs, payload, err := decodeEnvelope(msg.GetData())
	if err != nil {
		// An honest peer never builds a malformed envelope.
		t.malformed.Inc()
		return Reject
	}
	if len(payload) > t.h.cfg.MaxMessageBytes {
		return Reject
	}
	now := t.h.now()
	published := time.UnixMilli(publishMs)
	if now.Sub(published) > t.h.cfg.MaxAge() {
		t.expired.Inc()
		return Ignore
	}
	if published.Sub(now) > t.h.cfg.ClockDisparity {
		t.future.Inc()
		return Ignore
	}
	msg.ValidatorData = payload
	if local || t.validate == nil {
		return Accept
	}
	v := t.validate(src.String(), payload)
	if v != Accept && v != Ignore {
		v = Reject
	}
	return v
}

// readLoop moves accepted messages from other peers to the Messages
// channel, dropping them when the reader is slow. It closes the channel
// when the topic closes.
func (t *Topic) readLoop() {
	defer close(t.msgs)
	self := t.h.host.ID()
	for {
		m, err := t.sub.Next(t.h.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == self || m.GetFrom() == self {
			continue
		}
		payload, ok := m.ValidatorData.([]byte)
		if !ok {
			continue
		}
		select {
		case t.msgs <- Message{From: m.GetFrom().String(), Data: payload}:
		default:
			t.dropped.Inc()
		}
	}
}

// Publish sends data to the topic's mesh peers, wrapped in an envelope with
// the current time. It returns once the message is queued for sending; it
// blocks only while the router is busy, for at most five seconds. Delivery
// is not confirmed: before the first heartbeat has formed a mesh, nobody
// receives the message.
func (t *Topic) Publish(data []byte) error {
	if len(data) > t.h.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(data), t.h.cfg.MaxMessageBytes)
	}
	if t.h.ctx.Err() != nil {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(t.h.ctx, publishTimeout)
	defer cancel()
	env := encodeEnvelope(t.h.now().UnixMilli(), data)
	if err := t.pt.Publish(ctx, env); err != nil {
		return fmt.Errorf("p2p: publish on %s: %w", t.name, err)
	}
	t.published.Inc()
	return nil
}

// Messages returns the accepted messages from other peers (never this
// host's own). The channel is buffered (Config.MessageBuffer); a message
// that finds it full is dropped and counted. It is closed when the host
// closes.
func (t *Topic) Messages() <-chan Message { return t.msgs }

// Peers returns the IDs of the peers subscribed to the topic.
func (t *Topic) Peers() []string {
	var out []string
	for _, p := range t.pt.ListPeers() {
		out = append(out, p.String())
	}
	return out
}

// Leave cancels the subscription and leaves the topic: Messages closes,
// Publish fails, and the name may be joined again.
func (t *Topic) Leave() {
	t.h.mu.Lock()
	if t.h.topics[t.full] == t {
		delete(t.h.topics, t.full)
	}
	t.h.mu.Unlock()
	t.close()
}

// close cancels the subscription and leaves the topic.
func (t *Topic) close() {
	t.closeOnce.Do(func() {
		if t.sub != nil {
			t.sub.Cancel()
		}
		if t.pt != nil {
			_ = t.pt.Close()
		}
		_ = t.h.ps.UnregisterTopicValidator(t.full)
	})
}
