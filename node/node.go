package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/bls"
	"github.com/bizra/node0/consensus/driver"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/rpc"
)

// Options are what a caller provides besides the config.
type Options struct {
	// Logger is the root logger; nil builds one from the config on stderr.
	Logger *slog.Logger
	// Clock drives block production; nil is the system clock.
	Clock Clock
	// Version is reported in logs and metrics.
	Version string
	// Transport connects the validator to the others of a multi-validator
	// chain (MemNetwork.Join in one process). A chain whose only validator
	// is this one needs none.
	Transport TransportFactory
	// Regions, when set, are the regions of the validators by index (a
	// local testnet's RegionsFileName, see LoadRegions): the node holds
	// every consensus message it receives for the emulated latency from
	// the sender's region to its own.
	Regions []string
}

// Node is an assembled validator node: every part is built by New, with
// the store and chain open; Start runs the services (metrics, p2p,
// consensus, JSON-RPC, dev traffic) in that order; Stop stops them in
// reverse, and Start may run them again; Close stops them if they run and
// releases the store.
type Node struct {
	cfg     Config
	log     *slog.Logger
	clock   Clock
	reg     *prometheus.Registry
	genesis *chain.Genesis
	self    chain.GenesisValidator
	index   uint32 // this validator's index in the genesis set
	version string

	store *chain.Store
	chain *chain.Chain
	pool  *mempool.Pool
	door  *mempool.Admission // bounds client admission and proposals by what the chain commits
	// journal keeps what clients sent until it commits (nil when
	// mempool.journal is off); replayed are the transactions it admitted
	// again at start, gossiped once the network runs.
	journal  *mempool.Journal
	replayed []*chain.Tx
	feed     *rpc.Feed // JSON-RPC subscriptions' events
	net      *network  // nil without the peer-to-peer layer
	engine   *bftEngine
	rpc      *rpc.Server
	metrics  *metricsServer
	// closers are released by Close after the services stop: transports
	// a factory made and the latency decorator.
	closers []io.Closer
	sync    *syncTracker
	lc      lifecycle

	mu      sync.Mutex
	running bool
	closed  bool
}

// NewLogger builds a logger from the log config.
func NewLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New checks the config, loads keys and genesis, opens the store and
// builds every part. It refuses to run a validator whose key is not in the
// genesis, or a chain of several validators without a way to reach them.
func New(cfg Config, o Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = NewLogger(cfg.Log, os.Stderr)
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	n := &Node{cfg: cfg, log: o.Logger.With("module", "node"), clock: o.Clock, reg: newRegistry(), version: o.Version}
	vk, nodeKey, err := n.loadIdentity(o)
	if err != nil {
		return nil, err
	}
	if err := n.openChain(o); err != nil {
		return nil, err
	}
	if err := n.build(o, vk, nodeKey); err != nil {
		return nil, errors.Join(err, n.release())
	}
	return n, nil
}

// loadIdentity loads the genesis and the keys, and finds this validator in
// the genesis set.
func (n *Node) loadIdentity(o Options) (*bls.SecretKey, ed25519.PrivateKey, error) {
	cfg := &n.cfg
	g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	if err != nil {
		return nil, nil, err
	}
	if err := verifyValidatorKeys(g); err != nil {
		return nil, nil, err
	}
	n.genesis = g
	vk, err := LoadValidatorKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	nodeKey, err := LoadNodeKey(cfg.Path(cfg.P2P.NodeKeyFile))
	if err != nil {
		return nil, nil, err
	}
	pub := vk.PublicKey().Bytes()
	found := false
	for i, v := range g.Validators {
		if bytes.Equal(v.PubKey, pub) {
			n.self, n.index, found = v, uint32(i), true
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("%w: key %x", ErrNotValidator, pub)
	}
	if len(g.Validators) > 1 && o.Transport == nil && !cfg.P2P.Enabled {
		return nil, nil, fmt.Errorf("%w: the genesis has %d validators and p2p.enabled is false", ErrNoTransport, len(g.Validators))
	}
	if o.Regions != nil && len(o.Regions) != len(g.Validators) {
		return nil, nil, fmt.Errorf("%w: %d regions for %d validators", ErrRegions, len(o.Regions), len(g.Validators))
	}
	return vk, nodeKey, nil
}

// openChain opens the store, the chain and the pool.
func (n *Node) openChain(o Options) error {
	cfg := &n.cfg
	so := chain.DefaultStoreOptions()
	so.CacheBytes = int64(cfg.Chain.CacheMB) << 20
	so.Logger = o.Logger
	store, err := chain.OpenStore(cfg.Path(cfg.Chain.DataDir), so)
	if err != nil {
		return err
	}
	n.store = store
	c, err := chain.New(store, n.genesis, cfg.Chain.Config, chain.NewMetrics(n.reg), o.Logger)
	if err != nil {
		_ = store.Close()
		return err
	}
	n.chain = c
	// The feed of JSON-RPC subscriptions exists before what feeds it.
	n.feed = rpc.NewFeed(rpcChain{c}, o.Logger)
	n.pool, err = mempool.New(cfg.Mempool, c.Rules(), c, mempool.Options{
		Metrics: mempool.NewMetrics(n.reg), Logger: o.Logger, Now: o.Clock.Now, OnAdmit: n.feed.NotifyTx,
	})
	if err != nil {
		_ = store.Close()
		return err
	}
	n.door = mempool.NewAdmission(n.pool, n.genesis.BlockTime.Duration, blockTxLimit(n.genesis), o.Clock.Now, mempool.NewAdmissionMetrics(n.reg))
	n.seedAdmission()
	if err := n.openJournal(o); err != nil {
		_ = store.Close()
		return err
	}
	nm := NewMetrics(n.reg)
	nm.Info.WithLabelValues(o.Version, strconv.FormatUint(n.genesis.ChainID, 10), cfg.Moniker).Set(1)
	nm.StartTime.Set(float64(o.Clock.Now().Unix()))
	return nil
}

// build makes the services in their start order: metrics, the network,
// the consensus engine over its transport, JSON-RPC, dev traffic.
func (n *Node) build(o Options, vk *bls.SecretKey, nodeKey ed25519.PrivateKey) error {
	cfg, g := &n.cfg, n.genesis
	if cfg.Metrics.Enabled {
		n.metrics = &metricsServer{addr: cfg.Metrics.ListenAddr, reg: n.reg, log: o.Logger.With("module", "metrics"), pprof: cfg.Metrics.Pprof}
		n.lc.services = append(n.lc.services, n.metrics)
	}
	vals, err := validatorSet(g)
	if err != nil {
		return err
	}
	bc, err := consensus.NewBLSCrypto(vk, vals)
	if err != nil {
		return err
	}
	// One cache of verified signatures for the gossip validators and the
	// engine: what gossip checked, the core does not check again.
	crypto := consensus.NewVerifyCache(bc, 0)
	bound := newBoundBlocks() // proposals gossip bound, for the engine
	tr, err := n.transport(o, nodeKey, vals, crypto, bound)
	if err != nil {
		return err
	}
	n.engine, err = newBFTEngine(engineParams{
		chain: n.chain, txs: n.pool, blockTxs: n.door.BlockTxs, senders: n.pool.Sender, genesis: g, crypto: crypto, self: n.index,
		net: tr, clock: o.Clock, log: o.Logger, metrics: driver.NewMetrics(n.reg), listeners: []CommitListener{n.committed}, bound: bound,
	})
	if err != nil {
		return err
	}
	n.lc.services = append(n.lc.services, n.engine)
	if cfg.RPC.Enabled {
		n.rpc, err = rpc.NewServer(cfg.RPC.Config, rpcChain{n.chain}, rpcPool{n.pool, n.net, n.journal}, rpc.Options{
			Metrics: rpc.NewMetrics(n.reg), Logger: o.Logger, ClientVersion: "bizra/" + o.Version,
			Node: newRPCNode(n), TxMessages: poolMessages, Feed: n.feed, Admission: n.door,
		})
		if err != nil {
			return err
		}
		n.lc.services = append(n.lc.services, &funcService{name: "rpc", start: func(context.Context) error { return n.rpc.Start() }, stop: n.rpc.Stop})
	}
	if cfg.Dev.Traffic > 0 {
		dev := FundedDevAccounts(g)
		if len(dev) == 0 {
			return fmt.Errorf("%w: dev.traffic needs dev accounts funded at genesis (bizra init --dev-accounts N, or bizra devnet)", ErrInvalidConfig)
		}
		n.lc.services = append(n.lc.services, newDevTraffic(n.chain, n.pool, dev, cfg.Dev.Traffic, o.Clock, o.Logger))
	}
	if len(n.replayed) > 0 && n.net != nil {
		n.lc.services = append(n.lc.services, newJournalGossip(n, o.Logger))
	}
	n.sync = &syncTracker{caughtUp: n.cfg.CaughtUp, head: n.height, best: n.bestPeerHeight}
	n.lc.log = n.log
	return nil
}

func (n *Node) height() uint64 {
	h, _ := n.chain.Head()
	return h.Height
}

// bestPeerHeight is the best committed height peers report, 0 without the
// peer-to-peer layer.
func (n *Node) bestPeerHeight() uint64 {
	if n.net == nil {
		return 0
	}
	return n.net.BestHeight()
}

// transport is the engine's transport: the caller's, else the peer-to-peer
// network (a service of its own) when enabled, else none (a single
// validator); with regions, behind the latency decorator.
func (n *Node) transport(o Options, nodeKey ed25519.PrivateKey, vals *consensus.ValidatorSet, crypto consensus.Crypto, bound *boundBlocks) (Transport, error) {
	var tr Transport = soloTransport{}
	switch {
	case o.Transport != nil && len(n.genesis.Validators) > 1:
		t, err := o.Transport(n.index, n.store.Block)
		if err != nil {
			return nil, fmt.Errorf("node: transport: %w", err)
		}
		if c, ok := t.(io.Closer); ok {
			n.closers = append(n.closers, c)
		}
		tr = t
	case o.Transport == nil && n.cfg.P2P.Enabled:
		var err error
		n.net, err = newNetwork(networkParams{
			cfg: n.cfg.P2P, key: nodeKey, genesis: n.genesis, self: n.index, vals: vals, crypto: crypto,
			chain: n.chain, pool: n.pool, committees: newCommitteeSource(n.chain, n.genesis, vals).current, bound: bound,
			log: o.Logger, reg: n.reg,
		})
		if err != nil {
			return nil, fmt.Errorf("node: p2p: %w", err)
		}
		n.lc.services = append(n.lc.services, n.net)
		tr = n.net
	}
	if n.cfg.P2P.Region != "" && len(o.Regions) == 0 {
		n.log.Warn("p2p.region is no longer read: a local testnet's "+RegionsFileName+" sets emulated latency (bizra testnet init --regions writes it)", "region", n.cfg.P2P.Region)
	}
	if len(o.Regions) > 0 {
		l := newLatencyTransport(tr, n.index, o.Regions)
		n.closers = append(n.closers, l)
		n.log.Info("emulating wide-area latency", "region", o.Regions[n.index])
		tr = l
	}
	return tr, nil
}

// Start runs the services in order; after Stop it runs them again.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrStopped
	}
	if n.running {
		return errors.New("node: already running")
	}
	head, hash := n.chain.Head()
	n.log.Info("starting node",
		"moniker", n.cfg.Moniker,
		"chain_id", n.genesis.ChainID,
		"genesis_hash", n.genesis.Hash(),
		"height", head.Height,
		"head", hash,
		"validator", n.self.Name,
		"fee_recipient", n.self.Address,
		"block_time", n.genesis.BlockTime.Duration)
	if err := n.lc.start(ctx); err != nil {
		return err
	}
	n.running = true
	return nil
}

// Stop stops the services in reverse order. The block in progress is
// committed whole or not at all.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return nil
	}
	n.running = false
	err := n.lc.stop()
	head, _ := n.chain.Head()
	n.log.Info("node stopped", "height", head.Height)
	return err
}

// Close stops the node if it runs and releases the transports and the
// store.
func (n *Node) Close() error {
	err := n.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return err
	}
	n.closed = true
	return errors.Join(err, n.release())
}

// release closes what New opened, in reverse.
func (n *Node) release() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i].Close())
	}
	n.closers = nil
	if n.journal != nil {
		errs = append(errs, n.journal.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// Run starts the node and runs it until ctx ends or a service fails, then
// stops and closes it. It returns the failure, if any.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return errors.Join(err, n.Close())
	}
	var failure error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
	case <-n.engine.Failed():
		failure = fmt.Errorf("node: consensus engine failed: %w", n.engine.Err())
	}
	start := time.Now()
	err := errors.Join(failure, n.Close())
	n.log.Info("shutdown complete", "took", time.Since(start).Round(time.Millisecond))
	return err
}

// Failed is closed when a service has failed and the node must stop; Run
// handles it, callers that use Start and Stop themselves select on it.
func (n *Node) Failed() <-chan struct{} { return n.engine.Failed() }

// Err returns the failure that closed Failed.
func (n *Node) Err() error { return n.engine.Err() }

// Chain returns the node's chain.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Genesis returns the genesis the node runs.
func (n *Node) Genesis() *chain.Genesis { return n.genesis }

// Validator returns this node's entry in the validator set.
func (n *Node) Validator() chain.GenesisValidator { return n.self }

// committed tells the mempool about a committed block (dropping queued
// transactions past their lifetime on the way), the journal (which
// compacts if it outgrew the pool) and the RPC subscribers.
func (n *Node) committed(p *chain.Pending) {
	n.pool.Committed(p.Changes())
	h := &p.Block.Header
	n.door.Committed(len(p.Block.Txs), h.Timestamp, h.Round)
	n.pool.Expire()
	if n.journal != nil {
		n.journal.Trim()
	}
	n.feed.NotifyBlock(p.Block)
}

// blockTxLimit is the most transfers a block of the genesis may hold.
func blockTxLimit(g *chain.Genesis) int {
	return int(min(uint64(g.Limits.BlockMaxTxs), g.Limits.BlockGasLimit/chain.TransferGas))
}

// seedAdmission shows the door the last blocks of the store, so that a
// restarted node starts from the capacity the chain showed before, as the
// nodes that kept running have it.
func (n *Node) seedAdmission() {
	head := n.height()
	for h := head - min(head, 63); h <= head; h++ {
		if h == 0 {
			continue
		}
		hd, err := n.store.Header(h)
		if err != nil {
			return
		}
		n.door.Replay(int(hd.GasUsed/chain.TransferGas), hd.Timestamp, hd.Round)
	}
}

// RPCAddr returns the address JSON-RPC is served on, once started.
func (n *Node) RPCAddr() string {
	if n.rpc == nil {
		return ""
	}
	return n.rpc.Addr()
}

// P2PAddrs returns the multiaddrs peers reach this node at, each ending in
// /p2p/<peer id>; nil without the peer-to-peer layer or while stopped.
func (n *Node) P2PAddrs() []string {
	if n.net == nil {
		return nil
	}
	return n.net.Addrs()
}

// Mempool returns the node's transaction pool.
func (n *Node) Mempool() *mempool.Pool { return n.pool }

// MetricsAddr returns the address metrics are served on, once started.
func (n *Node) MetricsAddr() string {
	if n.metrics == nil {
		return ""
	}
	return n.metrics.Addr()
}

// Registry returns the node's Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }
