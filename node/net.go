package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
)

// network is the node's peer-to-peer service: a libp2p host (package p2p)
// that carries consensus messages (consensusGossip, net_consensus.go),
// transactions (txGossip, net_txs.go) and block sync (blockSync,
// net_sync.go), with the consensus, chain and mempool rules supplied as
// topic validators. The node builds it in New; it listens from Start to
// Stop, and a Start after Stop builds a new host with the same identity.
// It is the consensus Transport of a validator on libp2p.
type network struct {
	cfg     p2p.Config
	key     ed25519.PrivateKey
	log     *slog.Logger
	metrics *p2p.Metrics // registered once, for every host
	chain   *chain.Chain
	cons    *consensusGossip
	txs     *txGossip
	sync    *blockSync
	topics  []string // every topic the node may join, for the host's filter

	mu  sync.RWMutex
	run *netRun // nil while stopped
}

// netRun is one run of the network, from Start to Stop: the host, and the
// goroutines that stop with it.
type netRun struct {
	host   *p2p.Host
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// every runs fn every d until the run stops, as one of its goroutines.
func (r *netRun) every(d time.Duration, fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

type networkParams struct {
	cfg     P2PConfig
	key     ed25519.PrivateKey
	genesis *chain.Genesis
	self    uint32
	vals    *consensus.ValidatorSet
	crypto  consensus.Crypto
	chain   *chain.Chain
	pool    *mempool.Pool
	// committees reports the current epoch's committees.
	committees func() *consensus.Committees
	// bound receives the blocks of the proposals gossip accepted, for the
	// consensus engine.
	bound *boundBlocks
	log   *slog.Logger
	reg   prometheus.Registerer
}

// newNetwork prepares the service; nothing listens before Start.
func newNetwork(p networkParams) (*network, error) {
	cfg := p2pConfig(p.cfg, p.genesis)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := p.log.With("module", "net")
	n := &network{cfg: cfg, key: p.key, log: log, metrics: p2p.NewMetrics(p.reg), chain: p.chain}
	tag := p.genesis.Hash()
	n.cons = newConsensusGossip(consensusGossipParams{
		self: p.self, tag: tag, vals: p.vals, crypto: p.crypto, head: n.head,
		committees: p.committees, epochLength: p.genesis.Consensus.EpochLength, bound: p.bound, log: log, reg: p.reg,
	})
	n.txs = newTxGossip(p.pool, log)
	n.sync = newBlockSync(p.chain, tag, p.vals, p.crypto, log)
	n.topics = gossipTopics(p.genesis.Consensus.Committees)
	return n, nil
}

// gossipTopics are the topics a node may join: the consensus topics,
// transactions, and the vote subnet of each of the chain's committees.
// Peers may announce only these.
func gossipTopics(committees int) []string {
	out := append([]string{topicTxs}, consensusTopics...)
	for k := range committees {
		out = append(out, voteSubnet(k))
	}
	return out
}

// p2pConfig is the host configuration of a node's p2p settings: the
// p2p package's own, with the chain's identity.
func p2pConfig(c P2PConfig, g *chain.Genesis) p2p.Config {
	cfg := c.Config
	cfg.ChainID = g.ChainID
	cfg.Genesis = g.Hash()
	return cfg
}

func (n *network) Name() string { return "p2p" }

// Start builds the host, listens, joins the topics and starts the
// goroutines of this run.
func (n *network) Start(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run != nil {
		return errors.New("node: p2p already running")
	}
	host, err := p2p.New(n.key, n.cfg, p2p.Options{
		Logger: n.log, Metrics: n.metrics, Protocol: protocolVersion,
		Head: n.head, Blocks: n.sync.serve, Topics: n.topics,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &netRun{host: host, ctx: ctx, cancel: cancel}
	if err := errors.Join(n.cons.start(run), n.txs.start(run)); err != nil {
		n.stopRun(run)
		return err
	}
	n.sync.start(run)
	n.run = run
	n.log.Info("p2p host started", "peer_id", host.ID(), "addrs", host.Addrs())
	return nil
}

// Stop closes the host and waits for the run's goroutines.
func (n *network) Stop() error {
	n.mu.Lock()
	run := n.run
	n.run = nil
	n.mu.Unlock()
	if run == nil {
		return nil
	}
	return n.stopRun(run)
}

func (n *network) stopRun(run *netRun) error {
	run.cancel()
	err := run.host.Close()
	run.wg.Wait()
	n.cons.stop()
	return err
}

// current returns the running host's run, nil while stopped.
func (n *network) current() *netRun {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.run
}

func (n *network) head() uint64 {
	h, _ := n.chain.Head()
	return h.Height
}

// The consensus Transport.

func (n *network) Send(to []uint32, m *consensus.Message) { n.cons.send(n.current(), to, m) }
func (n *network) Messages() <-chan *consensus.Message    { return n.cons.msgs }
func (n *network) Blocks() <-chan *chain.Block            { return n.sync.blocks }

// RequestBlock fetches committed blocks from height on, from any peer
// that has them.
func (n *network) RequestBlock(height uint64, _ uint32) { n.sync.request(n.current(), height) }

// GossipTx queues a transaction this node admitted from a client; while
// the network is stopped it is only in this node's pool.
func (n *network) GossipTx(raw []byte) {
	if n.current() != nil {
		n.txs.queue(raw)
	}
}

// Peers reports the connected peers; none while stopped.
func (n *network) Peers() []p2p.PeerInfo {
	if run := n.current(); run != nil {
		return run.host.Peers()
	}
	return nil
}

// BestHeight is the highest committed height a peer advertised, 0 while
// stopped.
func (n *network) BestHeight() uint64 {
	if run := n.current(); run != nil {
		return run.host.BestHeight()
	}
	return 0
}

// Addrs returns the multiaddrs peers reach this node at, nil while
// stopped.
func (n *network) Addrs() []string {
	if run := n.current(); run != nil {
		return run.host.Addrs()
	}
	return nil
}

// committeeSource follows the chain's epochs: the committees of the epoch
// the next height belongs to, assigned as the consensus driver assigns
// them. It lets the network follow its committee's vote subnet without
// asking the driver.
type committeeSource struct {
	chain  *driverChain
	tag    chain.Hash
	vals   *consensus.ValidatorSet
	count  int
	length uint64

	mu    sync.Mutex
	epoch uint64
	c     *consensus.Committees
}

func newCommitteeSource(c *chain.Chain, g *chain.Genesis, vals *consensus.ValidatorSet) *committeeSource {
	return &committeeSource{chain: &driverChain{chain: c}, tag: g.Hash(), vals: vals, count: g.Consensus.Committees, length: g.Consensus.EpochLength}
}

// current returns the committees of the epoch being decided.
func (s *committeeSource) current() *consensus.Committees {
	next, _ := s.chain.Head()
	epoch := next / s.length
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.epoch == epoch {
		return s.c
	}
	seed, err := driver.EpochSeed(s.chain, s.tag, s.length, next)
	if err != nil {
		return s.c // a read error: keep the last assignment
	}
	s.c, s.epoch = s.vals.Assign(seed, s.count), epoch
	return s.c
}
