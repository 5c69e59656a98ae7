package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Options are the host's collaborators.
type Options struct {
	// Logger receives the host's logs, tagged module=p2p; nil discards them.
	Logger *slog.Logger
	// Metrics are the host's metrics (NewMetrics registers them once, so
	// that a caller that builds hosts again, a node restarted in one
	// process, keeps one set); nil: registered nowhere.
	Metrics *Metrics
	// Protocol is the version of what the caller carries over the host
	// (its gossip payloads), advertised in the status exchange: a peer
	// advertising another is refused and disconnected.
	Protocol uint32
	// Now is the clock of gossip envelopes (publish time and age checks);
	// nil: time.Now. Tests skew it to check message age.
	Now func() time.Time
	// Head returns this node's committed height, advertised to peers in
	// the status exchange; nil advertises 0.
	Head func() uint64
	// Blocks serves block sync: the committed blocks from height from,
	// consecutive, as stored (never decoded and encoded again), at most max
	// and at most maxBytes together; it stops before the first block that
	// would pass maxBytes (having read it, at most one block more than it
	// returns). An error after some blocks serves those; nil serves none
	// (requests are refused).
	Blocks func(from uint64, max, maxBytes int) ([][]byte, error)
	// Topics are the names (as given to Join) of every topic this host
	// may join and its peers may announce: a peer announcing another is
	// refused and penalised, and Join refuses another. nil allows any
	// well-formed name (letters, digits, . _ - /, at most 64 bytes).
	Topics []string
}

// PeerInfo describes a connected peer that passed the status handshake.
type PeerInfo struct {
	ID         string
	Addrs      []string
	Inbound    bool
	Persistent bool
	Score      float64 // gossip peer score, refreshed every second
	Height     uint64  // committed height the peer last advertised
}

// Host is a libp2p host with gossip, discovery, the status handshake and
// block sync. All methods are safe for concurrent use.
type Host struct {
	cfg    Config
	log    *slog.Logger
	met    *Metrics
	now    func() time.Time
	head   func() uint64
	blocks func(uint64, int, int) ([][]byte, error)
	pen    *penalties
	filter *topicFilter
	out    *outbound
	serve  *serveLimiter

	host  host.Host
	ps    *pubsub.PubSub
	dht   *dht.IpfsDHT // nil when Config.DHT is off
	gater *gater
	bw    *metrics.BandwidthCounter

	statusProto protocol.ID
	syncProto   protocol.ID
	protocol    uint32 // Options.Protocol
	persistent  map[peer.ID]peer.AddrInfo

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	peers  map[peer.ID]*peerState
	scores map[peer.ID]float64
	topics map[string]*Topic
	rr     int // rotation for Fetch
}

// peerState is what the host knows of a connected peer.
type peerState struct {
	verified   bool // status exchanged, same chain
	exchanging bool // a status exchange is under way
	failures   int  // consecutive failed status exchanges
	height     uint64
}

// New creates the host: it listens, starts gossip, the status and sync
// protocols and discovery, and dials the bootstrap and persistent peers in
// the background. Close releases everything.
func New(key ed25519.PrivateKey, cfg Config, opts Options) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 key of %d bytes", ErrInvalidConfig, len(key))
	}
	sk, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("p2p: key: %w", err)
	}
	h := &Host{
		cfg:         cfg,
		log:         opts.Logger,
		met:         opts.Metrics,
		now:         opts.Now,
		head:        opts.Head,
		blocks:      opts.Blocks,
		protocol:    opts.Protocol,
		gater:       newGater(),
		bw:          metrics.NewBandwidthCounter(),
		statusProto: protocol.ID(fmt.Sprintf("/bizra/%d/status/1", cfg.ChainID)),
		syncProto:   protocol.ID(fmt.Sprintf("/bizra/%d/sync/1", cfg.ChainID)),
		persistent:  make(map[peer.ID]peer.AddrInfo),
		peers:       make(map[peer.ID]*peerState),
		scores:      make(map[peer.ID]float64),
		topics:      make(map[string]*Topic),
		pen:         newPenalties(),
		serve:       newServeLimiter(cfg, time.Now()),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.met == nil {
		h.met = NopMetrics()
	}
	h.log = h.log.With("module", "p2p")
	if h.now == nil {
		h.now = time.Now
	}
	if h.head == nil {
		h.head = func() uint64 { return 0 }
	}
	h.met.bw.Store(h.bw)
	h.filter = newTopicFilter(cfg.ChainID, opts.Topics, h.penalise, h.verified)
	h.out = newOutbound(cfg.PeerQueueBytes, cfg.SlowPeerTimeout, h.met, h.drop)
	for _, a := range cfg.Persistent {
		ai, _ := peer.AddrInfoFromString(a) // checked by Validate
		h.persistent[ai.ID] = *ai
	}

	cm, err := connmgr.NewConnManager(cfg.LowWater, cfg.HighWater, connmgr.WithGracePeriod(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	rm, err := newResourceManager(h.statusProto, h.syncProto, dhtPrefix(cfg.ChainID)+dhtKadProtocol)
	if err != nil {
		cm.Close()
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	lh, err := libp2p.New(
		libp2p.Identity(sk),
		libp2p.NoListenAddrs, // listen once the protocols are in place
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(h.gater),
		libp2p.BandwidthReporter(h.bw),
		libp2p.UserAgent("bizra"),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		cm.Close()
		rm.Close()
		return nil, fmt.Errorf("p2p: host: %w", err)
	}
	h.host = lh
	h.ctx, h.cancel = context.WithCancel(context.Background())

	lh.Network().Notify(&network.NotifyBundle{
		ConnectedF:    func(_ network.Network, c network.Conn) { h.onConnected(c.RemotePeer()) },
		DisconnectedF: func(n network.Network, c network.Conn) { h.onDisconnected(n, c.RemotePeer()) },
	})
	lh.SetStreamHandler(h.statusProto, h.handleStatus)
	lh.SetStreamHandler(h.syncProto, h.handleSync)
	var listen []ma.Multiaddr
	for _, a := range cfg.ListenAddrs {
		listen = append(listen, ma.StringCast(a)) // checked by Validate
	}
	if err := lh.Network().Listen(listen...); err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p: listen: %w", err)
	}

	if err := h.startGossip(); err != nil {
		h.Close()
		return nil, err
	}
	if cfg.DHT {
		d, err := dht.New(lh,
			dht.Mode(dht.ModeServer),
			dht.ProtocolPrefix(dhtPrefix(cfg.ChainID)),
			dht.DisableProviders(),
			dht.DisableValues(),
		)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("p2p: dht: %w", err)
		}
		h.dht = d
	}
	for id := range h.persistent {
		lh.ConnManager().Protect(id, "persistent")
	}

	h.goSafe(h.bootstrap)
	h.goSafe(h.persistentLoop)
	h.goSafe(h.statusLoop)
	h.goSafe(h.outboundLoop)
	if h.dht != nil {
		h.goSafe(h.discoveryLoop)
	}
	h.log.Info("p2p host started", "peer_id", lh.ID().String(), "addrs", h.Addrs(), "chain_id", cfg.ChainID)
	return h, nil
}

// dhtPrefix is the DHT's protocol prefix: the chain's, so that chains never
// share a routing table. The DHT speaks dhtPrefix + dhtKadProtocol.
func dhtPrefix(chainID uint64) protocol.ID { return protocol.ID(fmt.Sprintf("/bizra/%d", chainID)) }

const dhtKadProtocol = "/kad/1.0.0"

// startGossip creates the GossipSub router.
func (h *Host) startGossip() error {
	ps, err := pubsub.NewGossipSub(h.ctx, h.host,
		pubsub.WithGossipSubParams(h.cfg.GossipConfig.Params()),
		pubsub.WithPeerScore(peerScoreParams(h.appScore), peerScoreThresholds()),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(h.onScores), scoreInspectInterval),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return messageID(m.GetTopic(), m.GetData(), nil) }),
		pubsub.WithMaxMessageSize(h.cfg.MaxMessageBytes+envelopeOverhead+rpcSlack),
		// GossipSub drops what does not fit these queues: 32 by default,
		// which a validator under load overflows with transaction batches
		// and proposals, losing messages the protocol then recovers from
		// only by timeouts.
		// The queue of each peer is bounded in bytes too, by h.out.
		pubsub.WithPeerOutboundQueueSize(peerOutboundQueue),
		pubsub.WithRawTracer(h.out),
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithSubscriptionFilter(h.filter),
		pubsub.WithLogger(h.log.With("component", "gossipsub")),
	)
	if err != nil {
		return fmt.Errorf("p2p: gossipsub: %w", err)
	}
	h.ps = ps
	return nil
}

// Queue sizes of the GossipSub router: messages waiting to be sent to one
// peer, and messages waiting for validation.
const (
	peerOutboundQueue = 1024
	validateQueue     = 1024
)

// rpcSlack is room in a GossipSub frame for the signature, the topic and the
// control messages beside one full-size message.
const rpcSlack = 64 << 10

// messageID is the hash of the topic and the payload's identity (id, or
// the payload itself when id is nil): relayed copies of a message
// deduplicate, and so does a re-publication of the same payload in a
// fresh envelope, for as long as the router remembers it (its seen-message
// window, two minutes, swept every minute; the caller's validator refuses
// what is too old by then). A caller that must send a payload again within
// that window, as the consensus core resends what may have been lost, makes
// the copy differ in what its identity covers. An envelope that
// does not decode is hashed whole; the validator rejects it.
func messageID(topic string, data []byte, id func([]byte) []byte) string {
	d := sha256.New()
	d.Write([]byte(topic))
	d.Write([]byte{0})
	_, payload, err := decodeEnvelope(data)
	switch {
	case err != nil:
		d.Write([]byte{0})
		d.Write(data)
	case id != nil:
		d.Write([]byte{1})
		d.Write(id(payload))
	default:
		d.Write([]byte{2})
		d.Write(payload)
	}
	return string(d.Sum(nil))
}

// goSafe runs fn in a goroutine that Close waits for, unless the host is
// closing.
func (h *Host) goSafe(fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

// ID returns the host's peer ID.
func (h *Host) ID() string { return h.host.ID().String() }

// Addrs returns the listen multiaddrs, each ending in /p2p/<id>.
func (h *Host) Addrs() []string {
	var out []string
	for _, a := range h.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+h.host.ID().String())
	}
	return out
}

// Peers lists the connected peers that passed the status handshake, by ID.
func (h *Host) Peers() []PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []PeerInfo
	for id, st := range h.peers {
		if !st.verified {
			continue
		}
		conns := h.host.Network().ConnsToPeer(id)
		if len(conns) == 0 {
			continue
		}
		pi := PeerInfo{
			ID:      id.String(),
			Inbound: conns[0].Stat().Direction == network.DirInbound,
			Score:   h.scores[id],
			Height:  st.height,
		}
		_, pi.Persistent = h.persistent[id]
		for _, c := range conns {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
		}
		out = append(out, pi)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// PeerCount is the number of connected peers that passed the status
// handshake.
func (h *Host) PeerCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.verifiedLocked()
}

func (h *Host) verifiedLocked() int {
	n := 0
	for _, st := range h.peers {
		if st.verified {
			n++
		}
	}
	return n
}

// BestHeight is the highest committed height the connected peers
// advertise.
func (h *Host) BestHeight() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bestLocked()
}

func (h *Host) bestLocked() uint64 {
	var best uint64
	for _, st := range h.peers {
		if st.verified && st.height > best {
			best = st.height
		}
	}
	return best
}

// Close stops gossip, discovery and every protocol, closes all connections
// and listeners, and waits for the host's goroutines.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	topics := make([]*Topic, 0, len(h.topics))
	for _, t := range h.topics {
		topics = append(topics, t)
	}
	h.mu.Unlock()

	if h.cancel != nil {
		h.cancel()
	}
	for _, t := range topics {
		t.close()
	}
	var err error
	if h.dht != nil {
		if e := h.dht.Close(); e != nil {
			err = fmt.Errorf("p2p: closing dht: %w", e)
		}
	}
	if h.host != nil {
		h.host.RemoveStreamHandler(h.statusProto)
		h.host.RemoveStreamHandler(h.syncProto)
		if e := h.host.Close(); e != nil && err == nil {
			err = fmt.Errorf("p2p: closing host: %w", e)
		}
	}
	h.wg.Wait()
	h.log.Info("p2p host closed")
	return err
}

// onConnected starts a status exchange with a newly connected peer.
func (h *Host) onConnected(p peer.ID) {
	h.startExchange(p)
}

// onDisconnected forgets a peer once its last connection is gone.
func (h *Host) onDisconnected(n network.Network, p peer.ID) {
	if n.Connectedness(p) == network.Connected {
		return
	}
	h.mu.Lock()
	delete(h.peers, p)
	h.updateGaugesLocked()
	h.mu.Unlock()
	h.filter.forget(p)
	h.out.forget(p)
	h.serve.forget(p)
}

// appScore is the application-specific part of a peer's gossip score: its
// penalty points, negated.
func (h *Host) appScore(p peer.ID) float64 { return -h.penalty(p) }

// outboundLoop checks the peers' gossip queues every second.
func (h *Host) outboundLoop() {
	h.every(time.Second, func() { h.out.check(time.Now()) })
}

func (h *Host) updateGaugesLocked() {
	h.met.Peers.Set(float64(h.verifiedLocked()))
	h.met.BestHeight.Set(float64(h.bestLocked()))
}

// disconnect closes every connection to p and refuses it for the ban
// duration. A peer already banned is left alone.
func (h *Host) disconnect(p peer.ID, reason string, cause error) {
	if !h.gater.ban(p, h.cfg.BanDuration) {
		return
	}
	h.met.Disconnects.WithLabelValues(reason).Inc()
	h.log.Info("disconnecting peer", "peer_id", p.String(), "reason", reason, "err", cause, "ban", h.cfg.BanDuration)
	h.closePeer(p)
}

// drop closes every connection to p without a ban: p may reconnect at
// once. It is for a peer that may be honest and only slow.
func (h *Host) drop(p peer.ID, reason string, cause error) {
	if h.gater.banned(p) {
		return // already disconnected
	}
	h.met.Disconnects.WithLabelValues(reason).Inc()
	h.log.Info("disconnecting peer", "peer_id", p.String(), "reason", reason, "err", cause)
	h.closePeer(p)
}

func (h *Host) closePeer(p peer.ID) {
	h.mu.Lock()
	delete(h.peers, p)
	h.updateGaugesLocked()
	h.mu.Unlock()
	h.goSafe(func() { _ = h.host.Network().ClosePeer(p) })
}

// Ban disconnects the peer with the given ID and refuses it for d: an
// operator's ban, or a partition in a test.
func (h *Host) Ban(id string, d time.Duration) error {
	p, err := peer.Decode(id)
	if err != nil {
		return fmt.Errorf("p2p: peer id %q: %w", id, err)
	}
	if d <= 0 {
		return fmt.Errorf("p2p: ban of %s", d)
	}
	h.gater.unban(p)
	h.gater.ban(p, d)
	h.met.Disconnects.WithLabelValues("ban").Inc()
	h.log.Info("banning peer", "peer_id", id, "for", d)
	h.mu.Lock()
	delete(h.peers, p)
	h.updateGaugesLocked()
	h.mu.Unlock()
	_ = h.host.Network().ClosePeer(p)
	return nil
}

// Unban lifts a ban; persistent peers are redialled, others may dial in.
func (h *Host) Unban(id string) error {
	p, err := peer.Decode(id)
	if err != nil {
		return fmt.Errorf("p2p: peer id %q: %w", id, err)
	}
	h.gater.unban(p)
	return nil
}

// onScores receives the gossip scores every second and disconnects the
// peers below DisconnectThreshold.
func (h *Host) onScores(scores map[peer.ID]float64) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.scores = scores
	h.mu.Unlock()
	for p, s := range scores {
		if s < DisconnectThreshold && h.host.Network().Connectedness(p) == network.Connected {
			h.disconnect(p, "score", fmt.Errorf("gossip score %.1f below %d", s, DisconnectThreshold))
		}
	}
}

// bootstrap dials the bootstrap and persistent peers once, in parallel,
// then starts the DHT's own refreshing.
func (h *Host) bootstrap() {
	var wg sync.WaitGroup
	for _, a := range slices.Concat(h.cfg.Bootstrap, h.cfg.Persistent) {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil || ai.ID == h.host.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
			defer cancel()
			if err := h.host.Connect(ctx, *ai); err != nil {
				h.log.Warn("bootstrap dial failed", "peer_id", ai.ID.String(), "err", err)
			}
		}()
	}
	wg.Wait()
	if h.dht != nil && h.ctx.Err() == nil {
		if err := h.dht.Bootstrap(h.ctx); err != nil {
			h.log.Warn("dht bootstrap failed", "err", err)
		}
	}
}

const (
	dialTimeout       = 10 * time.Second
	minRedialBackoff  = time.Second
	maxRedialBackoff  = time.Minute
	persistentTick    = 250 * time.Millisecond
	discoveryDeadline = 10 * time.Second
)

// persistentLoop redials disconnected persistent peers with exponential
// backoff from one second to one minute.
func (h *Host) persistentLoop() {
	if len(h.persistent) == 0 {
		return
	}
	type dialState struct {
		backoff time.Duration
		next    time.Time
		dialing bool
	}
	state := make(map[peer.ID]*dialState, len(h.persistent))
	for id := range h.persistent {
		state[id] = &dialState{backoff: minRedialBackoff, next: time.Now().Add(minRedialBackoff)}
	}
	type result struct {
		id  peer.ID
		err error
	}
	results := make(chan result, len(h.persistent))
	tick := time.NewTicker(persistentTick)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case r := <-results:
			st := state[r.id]
			st.dialing = false
			if r.err != nil {
				st.backoff = min(2*st.backoff, maxRedialBackoff)
				h.log.Debug("persistent peer redial failed", "peer_id", r.id.String(), "err", r.err, "backoff", st.backoff)
			} else {
				st.backoff = minRedialBackoff
			}
			st.next = time.Now().Add(st.backoff)
		case now := <-tick.C:
			for id, st := range state {
				if st.dialing || now.Before(st.next) || h.host.Network().Connectedness(id) == network.Connected {
					continue
				}
				st.dialing = true
				ai := h.persistent[id]
				if !h.goSafe(func() {
					ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
					defer cancel()
					results <- result{ai.ID, h.host.Connect(ctx, ai)}
				}) {
					return
				}
			}
		}
	}
}

// discoveryLoop walks the DHT towards the host's own ID while it has fewer
// than LowWater peers and connects to what it finds.
func (h *Host) discoveryLoop() {
	h.every(h.cfg.DiscoveryInterval, func() {
		if len(h.host.Network().Peers()) < h.cfg.LowWater && h.dht.RoutingTable().Size() > 0 {
			h.discover()
		}
	})
}

// every runs fn every d until the host closes.
func (h *Host) every(d time.Duration, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
			fn()
		}
	}
}

// discover connects to the peers a walk of the DHT finds.
func (h *Host) discover() {
	ctx, cancel := context.WithTimeout(h.ctx, discoveryDeadline)
	defer cancel()
	ids, err := h.dht.GetClosestPeers(ctx, string(h.host.ID()))
	if err != nil {
		h.log.Debug("dht walk failed", "err", err)
	}
	ids = append(ids, h.dht.RoutingTable().ListPeers()...)
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if id == h.host.ID() || h.gater.banned(id) || h.host.Network().Connectedness(id) == network.Connected {
			continue
		}
		if err := h.host.Connect(ctx, peer.AddrInfo{ID: id}); err != nil {
			h.log.Debug("dial of discovered peer failed", "peer_id", id.String(), "err", err)
		}
	}
}
