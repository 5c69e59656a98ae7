//go:build unix

package node

// The adversary harness: a libp2p peer that holds no validator key and
// joins a testnet like any node would (real go-libp2p, real GossipSub from
// go-libp2p-pubsub, our status handshake), then misbehaves. It builds on
// libp2p directly rather than on p2p.Host, because an attacker is not
// bound by our validators or envelopes: it publishes raw envelopes, writes
// raw pubsub RPCs and raw sync requests, and can stop reading.
//
// Two modes:
//   - gossip (the default): a GossipSub router joined to the consensus and
//     transaction topics, capturing every consensus message it receives;
//     AlterProposals, Replay and JunkTxBatches publish through it;
//   - raw (advConfig.Raw): no router; it speaks the pubsub protocol itself
//     (AnnounceTopics, StopReading) and accepts the nodes' pubsub streams
//     without ever reading them.
//
// Both answer the status exchange (unless advConfig.NoHandshake) and can
// flood block sync (FloodSync). Each attack is a method that runs until
// its context ends, at a rate given in its parameters, and returns what
// it did. One attack runs at a time on an adversary.
//
// The message generators (alterProposal, replayVariant, rewrap, the junk
// transactions) are plain functions over consensus messages and
// transaction encodings: the gossip fuzz tests seed their corpora with
// them. They depend only on encodeWire/decodeWire, the consensus types,
// topicOf and encodeTxBatch.

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	lnetwork "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
)

// advConfig describes an adversary: the chain it joins and how it
// behaves there.
type advConfig struct {
	ChainID uint64
	Genesis chain.Hash
	// Validators is the size of the validator set: re-addressed and
	// re-wrapped messages name validators below it.
	Validators int
	// Targets are the nodes to connect to: multiaddrs ending in /p2p/<id>.
	Targets []string
	// NoHandshake accepts the nodes' status streams but never answers
	// them, so that the peer never passes the handshake.
	NoHandshake bool
	// Raw runs no GossipSub router (see the file comment).
	Raw bool
	// Log receives the adversary's own logs; nil discards them.
	Log *slog.Logger
}

// adversary is a connected attacking peer. Close (registered as a
// cleanup) disconnects it.
type adversary struct {
	cfg         advConfig
	host        host.Host
	ps          *pubsub.PubSub // nil in raw mode
	targets     []peer.AddrInfo
	statusProto protocol.ID
	syncProto   protocol.ID
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	topics map[string]*pubsub.Topic // by our topic name (gossip mode)
	seen   chan captured            // captured consensus messages, newest last

	mu       sync.Mutex
	answered map[peer.ID]int             // status exchanges answered, by node
	held     []lnetwork.Stream           // the nodes' pubsub streams, never read (raw mode)
	out      map[peer.ID]lnetwork.Stream // our raw pubsub stream to each node

	seq atomic.Uint64 // makes generated copies distinct
}

// captured is a consensus message the adversary received.
type captured struct {
	topic   string
	attempt uint8
	msg     *consensus.Message
}

// meshsubProtocols are the GossipSub protocol IDs a raw adversary accepts
// streams on.
var meshsubProtocols = []protocol.ID{"/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0"}

// advMaxMessage is the largest pubsub message the adversary sends or
// receives: a node's limit (p2p: payload, envelope and RPC slack).
const advMaxMessage = p2p.DefaultMaxMessageBytes + 9 + 64<<10

// newAdversary starts an adversary, connects it to every target and
// returns once the connections are up (not necessarily the handshakes:
// see waitAccepted).
func newAdversary(tb testing.TB, cfg advConfig) *adversary {
	tb.Helper()
	a, err := startAdversary(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Close)
	if err := a.connect(); err != nil {
		tb.Fatal(err)
	}
	return a
}

func startAdversary(cfg advConfig) (*adversary, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	sk, err := lcrypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return nil, err
	}
	a := &adversary{
		cfg:         cfg,
		statusProto: protocol.ID(fmt.Sprintf("/bizra/%d/status/1", cfg.ChainID)),
		syncProto:   protocol.ID(fmt.Sprintf("/bizra/%d/sync/1", cfg.ChainID)),
		topics:      map[string]*pubsub.Topic{},
		seen:        make(chan captured, 4096),
		answered:    map[peer.ID]int{},
		out:         map[peer.ID]lnetwork.Stream{},
	}
	for _, s := range cfg.Targets {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("adversary: target %q: %w", s, err)
		}
		a.targets = append(a.targets, *ai)
	}
	// The attacker limits nothing of its own: no resource manager, no
	// connection manager.
	a.host, err = libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&lnetwork.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("bizra-adversary"),
	)
	if err != nil {
		return nil, fmt.Errorf("adversary: host: %w", err)
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.host.SetStreamHandler(a.statusProto, a.handleStatus)
	if cfg.Raw {
		for _, id := range meshsubProtocols {
			a.host.SetStreamHandler(id, a.holdStream)
		}
		return a, nil
	}
	a.ps, err = pubsub.NewGossipSub(a.ctx, a.host,
		pubsub.WithGossipSubParams(p2p.DefaultGossipConfig().Params()),
		pubsub.WithFloodPublish(true), // everything it publishes goes to every node at once
		pubsub.WithMaxMessageSize(advMaxMessage),
		pubsub.WithPeerOutboundQueueSize(8192),
		pubsub.WithValidateQueueSize(8192),
	)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("adversary: gossipsub: %w", err)
	}
	for _, name := range append(slices.Clone(consensusTopics), topicTxs) {
		t, err := a.ps.Join(p2p.TopicName(cfg.ChainID, name))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("adversary: join %s: %w", name, err)
		}
		sub, err := t.Subscribe(pubsub.WithBufferSize(4096))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("adversary: subscribe %s: %w", name, err)
		}
		a.topics[name] = t
		a.wg.Add(1)
		go a.capture(name, sub)
	}
	return a, nil
}

// connect dials every target.
func (a *adversary) connect() error {
	for _, ai := range a.targets {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		err := a.host.Connect(ctx, ai)
		cancel()
		if err != nil {
			return fmt.Errorf("adversary: connect %s: %w", ai.ID, err)
		}
	}
	return nil
}

// ID is the adversary's peer ID.
func (a *adversary) ID() string { return a.host.ID().String() }

// Close disconnects from everything and stops the adversary's goroutines.
func (a *adversary) Close() {
	a.cancel()
	a.mu.Lock()
	for _, s := range a.held {
		_ = s.Reset()
	}
	a.held = nil
	for _, s := range a.out {
		_ = s.Reset()
	}
	a.mu.Unlock()
	if a.host != nil {
		_ = a.host.Close()
	}
	a.wg.Wait()
}

// status is what the adversary tells the nodes: their own chain, height 0
// (so that nobody syncs from it) and their protocol version (p2p/wire.go).
func (a *adversary) status() []byte {
	b := make([]byte, 0, 53)
	b = append(b, 2) // status version
	b = binary.BigEndian.AppendUint64(b, a.cfg.ChainID)
	b = append(b, a.cfg.Genesis[:]...)
	b = binary.BigEndian.AppendUint64(b, 0)
	return binary.BigEndian.AppendUint32(b, protocolVersion)
}

// handleStatus answers a node's status exchange like a node would, or,
// with NoHandshake, holds the stream until the node gives up.
func (a *adversary) handleStatus(s lnetwork.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(io.LimitReader(s, 256)); err != nil {
		_ = s.Reset()
		return
	}
	if a.cfg.NoHandshake {
		select {
		case <-a.ctx.Done():
		case <-time.After(6 * time.Second):
		}
		_ = s.Reset()
		return
	}
	if _, err := s.Write(a.status()); err != nil {
		_ = s.Reset()
		return
	}
	a.mu.Lock()
	a.answered[s.Conn().RemotePeer()]++
	a.mu.Unlock()
}

// accepted reports whether every target has had its status exchange
// answered.
func (a *adversary) accepted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ai := range a.targets {
		if a.answered[ai.ID] == 0 {
			return false
		}
	}
	return true
}

// connectedTo counts the targets the adversary still has a connection to.
func (a *adversary) connectedTo() int {
	n := 0
	for _, ai := range a.targets {
		if a.host.Network().Connectedness(ai.ID) == lnetwork.Connected {
			n++
		}
	}
	return n
}

// capture records the consensus messages of a topic for the attacks; the
// channel keeps the newest when the attack is slower than the chain.
func (a *adversary) capture(name string, sub *pubsub.Subscription) {
	defer a.wg.Done()
	self := a.host.ID()
	for {
		m, err := sub.Next(a.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == self || name == topicTxs || len(m.Data) < 9 {
			continue
		}
		attempt, msg, err := decodeWire(m.Data[9:])
		if err != nil {
			continue
		}
		c := captured{topic: name, attempt: attempt, msg: msg}
		for {
			select {
			case a.seen <- c:
			default:
				select { // full: drop the oldest
				case <-a.seen:
				default:
				}
				continue
			}
			break
		}
	}
}

// envelope wraps a payload as p2p does: version 1 | publish time, unix ms
// u64 | payload.
func envelope(at time.Time, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:], uint64(at.UnixMilli()))
	return append(b, payload...)
}

// publish sends a payload on one of our topics in a fresh envelope.
func (a *adversary) publish(ctx context.Context, topic string, payload []byte) error {
	t := a.topics[topic]
	if t == nil {
		return fmt.Errorf("adversary: not joined to %q", topic)
	}
	return t.Publish(ctx, envelope(time.Now(), payload))
}

// pacer spaces events at a rate; rate 0 does not wait.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(rate float64) *pacer {
	p := &pacer{next: time.Now()}
	if rate > 0 {
		p.every = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait blocks until the next event is due; false once ctx ended. A pacer
// that fell behind by more than a second forgets the backlog.
func (p *pacer) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.every == 0 {
		return true
	}
	now := time.Now()
	if p.next.Before(now.Add(-time.Second)) {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	p.next = p.next.Add(p.every)
	return true
}

// attackStats is what an attack did.
type attackStats struct {
	Used    int64 // captured messages it worked from
	Sent    int64 // messages, RPCs, batches or requests sent
	Errors  int64 // sends that failed
	Served  int64 // sync: responses that carried blocks
	Blocks  int64 // sync: blocks received
	Bytes   int64 // sync: bytes received; topics: bytes written
	Refused int64 // sync: requests refused, reset or unanswered
}

func (s attackStats) String() string {
	return fmt.Sprintf("used %d, sent %d, errors %d, served %d, blocks %d, bytes %d, refused %d",
		s.Used, s.Sent, s.Errors, s.Served, s.Blocks, s.Bytes, s.Refused)
}

// next returns the newest captured consensus message, waiting for one;
// older ones still queued are dropped when the queue holds more than keep.
func (a *adversary) next(ctx context.Context, keep int) (captured, bool) {
	for len(a.seen) > keep {
		<-a.seen
	}
	select {
	case <-ctx.Done():
		return captured{}, false
	case c := <-a.seen:
		return c, true
	}
}

// AlterProposals publishes, for every proposal it sees, `copies` copies
// whose payload is junk (alterProposal's kinds in turn, starting with the
// smallest), as fast as rate allows (messages per second, 0: no limit).
func (a *adversary) AlterProposals(ctx context.Context, copies int, kinds []int, rate float64) attackStats {
	return a.republish(ctx, 64, copies, rate,
		func(c captured) bool { return c.msg.Kind == consensus.KindProposal },
		func(c captured, i int) (string, []byte) {
			m := alterProposal(c.msg, kinds[i%len(kinds)], a.seq.Add(1))
			return topicProposals, encodeWire(c.attempt, m)
		})
}

// Replay re-publishes every consensus message it sees `times` times in
// fresh envelopes, each copy a replayVariant (the same bytes, another
// attempt, a single vote re-wrapped as an aggregate or a certificate, a
// timeout as a timeout certificate), at most rate copies a second. It
// works from the newest messages when it falls behind.
func (a *adversary) Replay(ctx context.Context, times int, rate float64) attackStats {
	return a.republish(ctx, 32, times, rate,
		func(captured) bool { return true },
		func(c captured, _ int) (string, []byte) {
			return replayVariant(c.attempt, c.msg, a.cfg.Validators, a.seq.Add(1))
		})
}

// republish publishes, for every captured message that pick takes (the
// newest, keeping at most keep queued), `times` copies made by variant (its
// topic and wire bytes), at most rate a second (0: no limit), until ctx
// ends.
func (a *adversary) republish(ctx context.Context, keep, times int, rate float64, pick func(captured) bool, variant func(c captured, i int) (string, []byte)) attackStats {
	var st attackStats
	p := newPacer(rate)
	for {
		c, ok := a.next(ctx, keep)
		if !ok {
			return st
		}
		if !pick(c) {
			continue
		}
		st.Used++
		for i := range times {
			if !p.wait(ctx) {
				return st
			}
			topic, wire := variant(c, i)
			if err := a.publish(ctx, topic, wire); err != nil {
				st.Errors++
				continue
			}
			st.Sent++
		}
	}
}

// JunkTxBatches publishes batch(i) for i = 0, 1, … on the transaction
// topic, rate batches a second.
func (a *adversary) JunkTxBatches(ctx context.Context, batch func(i int) []byte, rate float64) attackStats {
	var st attackStats
	p := newPacer(rate)
	for i := 0; p.wait(ctx); i++ {
		if err := a.publish(ctx, topicTxs, batch(i)); err != nil {
			st.Errors++
			continue
		}
		st.Sent++
	}
	return st
}

// Raw pubsub RPCs, encoded by hand (protobuf, go-libp2p-pubsub's
// pb/rpc.proto): RPC{subscriptions = 1; control = 3}, SubOpts{subscribe =
// 1; topicid = 2}, ControlMessage{graft = 3}, ControlGraft{topicID = 1}.
// On the stream each RPC is prefixed with its length as a uvarint.

func pbField(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// subscriptionsRPC announces (or withdraws) subscriptions to topics.
func subscriptionsRPC(topics []string, subscribe bool) []byte {
	var rpc, so []byte
	for _, t := range topics {
		so = so[:0]
		so = append(so, 1<<3|0) // subscribe, varint
		if subscribe {
			so = append(so, 1)
		} else {
			so = append(so, 0)
		}
		so = pbField(so, 2, []byte(t))
		rpc = pbField(rpc, 1, so)
	}
	return rpc
}

// graftRPC asks to join the node's mesh of each topic.
func graftRPC(topics []string) []byte {
	var ctl []byte
	for _, t := range topics {
		ctl = pbField(ctl, 3, pbField(nil, 1, []byte(t)))
	}
	return pbField(nil, 3, ctl)
}

// sendRPC writes one RPC on the adversary's own pubsub stream to p,
// opening it first.
func (a *adversary) sendRPC(p peer.ID, rpc []byte) error {
	a.mu.Lock()
	s := a.out[p]
	a.mu.Unlock()
	if s == nil {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		var err error
		s, err = a.host.NewStream(ctx, p, meshsubProtocols...)
		cancel()
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.out[p] = s
		a.mu.Unlock()
	}
	frame := binary.AppendUvarint(make([]byte, 0, len(rpc)+binary.MaxVarintLen64), uint64(len(rpc)))
	_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(append(frame, rpc...)); err != nil {
		_ = s.Reset()
		a.mu.Lock()
		delete(a.out, p) // the next RPC opens a new stream
		a.mu.Unlock()
		return err
	}
	return nil
}

// holdStream accepts a node's pubsub stream and never reads it.
func (a *adversary) holdStream(s lnetwork.Stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		_ = s.Reset()
		return
	}
	a.held = append(a.held, s)
}

// AnnounceTopics (raw mode) announces invented topics to every target:
// RPCs of perRPC subscriptions each, until total topics went to each
// target or ctx ends, at most rate topics a second per target. GossipSub
// counts subscriptions in its control-size limit of an RPC (512 KiB by
// default: a stream whose RPC exceeds it is reset), so perRPC is at most
// about 18,000 topics of this length.
func (a *adversary) AnnounceTopics(ctx context.Context, total, perRPC int, rate float64) attackStats {
	var st attackStats
	p := newPacer(rate / float64(perRPC))
	topics := make([]string, perRPC)
	for sent := 0; sent < total && p.wait(ctx); sent += perRPC {
		for i := range topics {
			topics[i] = p2p.TopicName(a.cfg.ChainID, fmt.Sprintf("x%d", a.seq.Add(1)))
		}
		rpc := subscriptionsRPC(topics, true)
		for _, ai := range a.targets {
			if err := a.sendRPC(ai.ID, rpc); err != nil {
				st.Errors++
				continue
			}
			st.Sent++
			st.Bytes += int64(len(rpc))
		}
	}
	return st
}

// StopReading (raw mode) subscribes to the chain's real topics and asks
// every target to put it in its mesh, then never reads what the nodes
// send, until ctx ends.
func (a *adversary) StopReading(ctx context.Context) attackStats {
	var st attackStats
	var topics []string
	for _, name := range append(slices.Clone(consensusTopics), topicTxs) {
		topics = append(topics, p2p.TopicName(a.cfg.ChainID, name))
	}
	for _, ai := range a.targets {
		for _, rpc := range [][]byte{subscriptionsRPC(topics, true), graftRPC(topics)} {
			if err := a.sendRPC(ai.ID, rpc); err != nil {
				st.Errors++
				continue
			}
			st.Sent++
		}
	}
	<-ctx.Done()
	a.mu.Lock()
	st.Used = int64(len(a.held))
	a.mu.Unlock()
	return st
}

// FloodSync sends block sync requests (p2p/wire.go: version 1 | from u64
// | max u32) to every target, rate requests a second per target (0: as
// fast as answered) with up to conc in flight per target, and reads every
// answer.
func (a *adversary) FloodSync(ctx context.Context, from uint64, max uint32, rate float64, conc int) attackStats {
	var st attackStats
	var mu sync.Mutex
	add := func(d attackStats) {
		mu.Lock()
		defer mu.Unlock()
		st.Sent += d.Sent
		st.Served += d.Served
		st.Blocks += d.Blocks
		st.Bytes += d.Bytes
		st.Refused += d.Refused
	}
	req := make([]byte, 13)
	req[0] = 1
	binary.BigEndian.PutUint64(req[1:], from)
	binary.BigEndian.PutUint32(req[9:], max)
	var wg sync.WaitGroup
	for _, ai := range a.targets {
		tokens := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(tokens)
			p := newPacer(rate)
			for p.wait(ctx) {
				if rate <= 0 { // as fast as the workers go
					select {
					case tokens <- struct{}{}:
					case <-ctx.Done():
						return
					}
					continue
				}
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				default: // every worker busy: the request is not sent
				}
			}
		}()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range tokens {
					add(a.syncOnce(ctx, ai.ID, req))
				}
			}()
		}
	}
	wg.Wait()
	return st
}

// syncOnce sends one sync request and reads the answer.
func (a *adversary) syncOnce(ctx context.Context, p peer.ID, req []byte) attackStats {
	st := attackStats{Sent: 1}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := a.host.NewStream(ctx, p, a.syncProto)
	if err != nil {
		st.Refused++
		return st
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if _, err := s.Write(req); err != nil || s.CloseWrite() != nil {
		_ = s.Reset()
		st.Refused++
		return st
	}
	r := bufio.NewReaderSize(s, 64<<10)
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		st.Refused++
		return st
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	st.Bytes += 5
	for range n {
		var lb [4]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			break
		}
		k, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(lb[:])))
		st.Bytes += 4 + k
		if err != nil {
			break
		}
		st.Blocks++
	}
	if st.Blocks > 0 {
		st.Served++
	} else {
		st.Refused++
	}
	return st
}

// The message generators.

// Kinds of junk proposal payload (alterProposal).
const (
	junkRandom    = iota // 64 random-looking bytes: the smallest, fails to decode
	junkDropTx           // the real block with one transaction left out: same header, so the same BlockID
	junkForeignTx        // the real header with a junk transaction in place of the real ones
	junkTruncated        // the real block cut short
	junkEmpty            // no payload at all
	junkKinds
)

// alterProposal returns a copy of a proposal message with a junk payload
// of the given kind; everything signed (height, round, BlockID,
// ValidRound, the proposer and its signature) is kept, so the copy carries
// a valid signature. seq makes copies distinct.
func alterProposal(m *consensus.Message, kind int, seq uint64) *consensus.Message {
	p := *m.Proposal
	out := *m
	out.Proposal = &p
	rng := mrand.New(mrand.NewPCG(seq, 0x6a756e6b))
	junk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	blk, err := chain.DecodeBlock(m.Proposal.Payload)
	if err != nil && kind != junkEmpty {
		kind = junkRandom
	}
	switch kind {
	case junkRandom:
		p.Payload = junk(64)
	case junkDropTx:
		if len(blk.Txs) == 0 {
			blk.Txs = [][]byte{junk(110)}
		} else {
			i := int(seq % uint64(len(blk.Txs)))
			blk.Txs = slices.Delete(slices.Clone(blk.Txs), i, i+1)
		}
		p.Payload = blk.Encode()
	case junkForeignTx:
		blk.Txs = [][]byte{junk(110)}
		p.Payload = blk.Encode()
	case junkTruncated:
		p.Payload = slices.Clone(m.Proposal.Payload[:len(m.Proposal.Payload)/2])
	default:
		p.Payload = nil
	}
	return &out
}

// replayVariant returns the topic and wire bytes of the k-th replayed copy
// of a captured message (attempt, m) in a set of n validators. Every copy
// carries the original signature; what changes is unsigned (the wire's
// attempt: the wire carries no sender or recipients since protocol 3), or
// the message's dress:
//
//	k%6 == 0      the same bytes (only the envelope is new)
//	k%6 == 1..3   another attempt
//	k%6 == 4      a vote as a one-signer committee aggregate, a timeout as
//	              a one-signer timeout certificate (else another attempt)
//	k%6 == 5      a vote as a one-signer quorum certificate (else another
//	              attempt)
func replayVariant(attempt uint8, m *consensus.Message, n int, k uint64) (string, []byte) {
	if n < 1 {
		n = 1
	}
	other := (attempt + 1 + uint8(k%maxAttempt)) % (maxAttempt + 1)
	switch k % 6 {
	case 0:
		return topicOf(m.Kind), encodeWire(attempt, m)
	case 4:
		if w := rewrap(m, n, false); w != nil {
			return topicOf(w.Kind), encodeWire(other, w)
		}
	case 5:
		if w := rewrap(m, n, true); w != nil {
			return topicOf(w.Kind), encodeWire(other, w)
		}
	}
	return topicOf(m.Kind), encodeWire(other, m)
}

// rewrap dresses a single signed vote or timeout as an aggregate of one
// signer: a vote as a committee aggregate (KindAggregate) or, with cert,
// as a quorum certificate (KindQC); a timeout as a timeout certificate
// (KindTC, cert or not). The aggregate signature of one signer is that
// signer's signature, so the result verifies; nil for other kinds.
func rewrap(m *consensus.Message, n int, cert bool) *consensus.Message {
	signers := consensus.NewBitmap(n)
	switch {
	case m.Kind == consensus.KindVote && m.Vote != nil && int(m.Vote.Validator) < n:
		v := m.Vote
		signers.Set(v.Validator)
		kind := consensus.KindAggregate
		if cert {
			kind = consensus.KindQC
		}
		return &consensus.Message{Kind: kind, From: m.From, QC: &consensus.QC{
			Type: v.Type, Height: v.Height, Round: v.Round, BlockID: v.BlockID, Signers: signers, Sig: v.Sig,
		}}
	case m.Kind == consensus.KindTimeout && m.Timeout != nil && int(m.Timeout.Validator) < n:
		to := m.Timeout
		signers.Set(to.Validator)
		return &consensus.Message{Kind: consensus.KindTC, From: m.From, TC: &consensus.TC{
			Height: to.Height, Round: to.Round, Signers: signers, Sig: to.Sig,
		}}
	}
	return nil
}

// Junk transactions.

// badlySignedTx is a well-formed transfer whose signature is out of range
// (s above half the curve order): no sender can be recovered from it.
func badlySignedTx(rules *chain.Rules, nonce uint64) []byte {
	to := chain.Address{0xba, 0xd5}
	s := new(big.Int).Sub(ethcrypto.S256().Params().N, big.NewInt(int64(1+nonce%1000)))
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(rules.ChainID), Nonce: nonce,
		GasTipCap: big.NewInt(1e9), GasFeeCap: new(big.Int).Add(rules.MinGasPrice.ToBig(), big.NewInt(1e9)),
		Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
		V: big.NewInt(0), R: big.NewInt(int64(1 + nonce)), S: s,
	})
	raw, err := tx.MarshalBinary()
	if err != nil {
		panic(err) // a broken invariant of the generator
	}
	return raw
}

// unfundedTxs are n transfers correctly signed by a key (named by seed)
// that holds nothing, nonces 0..n-1: each costs its receiver a sender
// recovery before it is refused.
func unfundedTxs(rules *chain.Rules, n int, seed string) [][]byte {
	key, err := ethcrypto.ToECDSA(ethcrypto.Keccak256([]byte("bizra/adversary/unfunded"), []byte(seed)))
	if err != nil {
		panic(err) // a hash at or above the curve order: pick another seed
	}
	out := make([][]byte, n)
	to := chain.Address{0x0f, 0xf0}
	for i := range out {
		tx := types.NewTx(&types.DynamicFeeTx{
			ChainID: new(big.Int).SetUint64(rules.ChainID), Nonce: uint64(i),
			GasTipCap: big.NewInt(1e9), GasFeeCap: new(big.Int).Add(rules.MinGasPrice.ToBig(), big.NewInt(1e9)),
			Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
		})
		signed, err := types.SignTx(tx, rules.Signer(), key)
		if err != nil {
			panic(err)
		}
		if out[i], err = signed.MarshalBinary(); err != nil {
			panic(err)
		}
	}
	return out
}

// devTransferRaw signs a transfer of 1 wei between dev accounts.
func devTransferRaw(rules *chain.Rules, from DevAccount, to chain.Address, nonce uint64) []byte {
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(rules.ChainID), Nonce: nonce,
		GasTipCap: big.NewInt(1e9), GasFeeCap: new(big.Int).Add(rules.MinGasPrice.ToBig(), big.NewInt(1e9)),
		Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
	})
	signed, err := types.SignTx(tx, rules.Signer(), from.Key)
	if err != nil {
		panic(err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return raw
}

// rotated returns raws rotated left by k, so that successive batches of
// the same transactions are new messages.
func rotated(raws [][]byte, k int) [][]byte {
	if len(raws) == 0 {
		return nil
	}
	k %= len(raws)
	return append(slices.Clone(raws[k:]), raws[:k]...)
}

// Measuring.

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAfterGC is the live heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapSampler records the peak heap in use while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak.
func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

const mib = 1 << 20
