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
}

// Node is an assembled validator node: the store and chain are open after
// New; Start runs the services; Stop stops them in reverse order; Close
// releases the store.
type Node struct {
	cfg     Config
	log     *slog.Logger
	clock   Clock
	reg     *prometheus.Registry
	genesis *chain.Genesis
	self    chain.GenesisValidator

	store   *chain.Store
	chain   *chain.Chain
	pool    *mempool.Pool
	rpc     *rpc.Server
	version string
	engine  *bftEngine
	net     *network // nil without the peer-to-peer layer
	index   uint32   // this validator's index in the genesis set
	metrics *metricsServer
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

// New checks the config, loads keys and genesis, and opens the store. It
// refuses to run a validator whose key is not in the genesis, or that
// would produce blocks alone without a quorum of the stake.
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

	g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	if err != nil {
		return nil, err
	}
	if err := verifyValidatorKeys(g); err != nil {
		return nil, err
	}
	n.genesis = g
	vk, err := LoadValidatorKey(&cfg)
	if err != nil {
		return nil, err
	}
	nodeKey, err := LoadNodeKey(cfg.Path(cfg.P2P.NodeKeyFile))
	if err != nil {
		return nil, err
	}
	pub := vk.PublicKey().Bytes()
	found := false
	for i, v := range g.Validators {
		if bytes.Equal(v.PubKey, pub) {
			n.self, n.index, found = v, uint32(i), true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: key %x", ErrNotValidator, pub)
	}
	if len(g.Validators) > 1 && o.Transport == nil && !cfg.P2P.Enabled {
		return nil, fmt.Errorf("%w: the genesis has %d validators and p2p.enabled is false", ErrNoTransport, len(g.Validators))
	}

	so := chain.DefaultStoreOptions()
	so.CacheBytes = int64(cfg.Chain.CacheMB) << 20
	so.Logger = o.Logger
	store, err := chain.OpenStore(cfg.Path(cfg.Chain.DataDir), so)
	if err != nil {
		return nil, err
	}
	n.store = store
	cm := chain.NewMetrics(n.reg)
	c, err := chain.New(store, g, cfg.Chain.Config, cm, o.Logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n.chain = c
	n.pool, err = mempool.New(cfg.Mempool, c.Rules(), c, mempool.Options{
		Metrics: mempool.NewMetrics(n.reg), Logger: o.Logger, Now: o.Clock.Now,
		OnAdmit: func(tx *chain.Tx) {
			if n.rpc != nil {
				n.rpc.NotifyTx(tx)
			}
		},
	})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	nm := NewMetrics(n.reg)
	nm.Info.WithLabelValues(o.Version, strconv.FormatUint(g.ChainID, 10), cfg.Moniker).Set(1)
	nm.StartTime.Set(float64(o.Clock.Now().Unix()))

	if err := n.newEngine(g, vk, nodeKey, o); err != nil {
		_ = store.Close()
		return nil, err
	}
	if cfg.Metrics.Enabled {
		n.metrics = &metricsServer{addr: cfg.Metrics.ListenAddr, reg: n.reg, log: o.Logger.With("module", "metrics"), pprof: cfg.Metrics.Pprof}
		n.lc.services = append(n.lc.services, n.metrics)
	}
	if cfg.RPC.Enabled {
		n.rpc, err = rpc.NewServer(cfg.RPC.Config, rpcChain{c}, rpcPool{n.pool, n.net}, rpc.Options{
			Metrics: rpc.NewMetrics(n.reg), Logger: o.Logger, ClientVersion: "bizra/" + o.Version,
			Node: rpcNode{n}, TxErrorMessage: poolErrorMessage,
		})
		if err != nil {
			n.closeNetwork()
			_ = store.Close()
			return nil, err
		}
		n.lc.services = append(n.lc.services, &funcService{name: "rpc", start: func(context.Context) error { return n.rpc.Start() }, stop: n.rpc.Stop})
	}
	n.lc.services = append(n.lc.services, n.engine)
	if cfg.Dev.Traffic > 0 {
		dev := FundedDevAccounts(g)
		if len(dev) == 0 {
			n.closeNetwork()
			_ = store.Close()
			return nil, fmt.Errorf("%w: dev.traffic needs dev accounts funded at genesis (bizra init --dev-accounts N, or bizra devnet)", ErrInvalidConfig)
		}
		n.lc.services = append(n.lc.services, newDevTraffic(c, n.pool, dev, cfg.Dev.Traffic, o.Clock, o.Logger))
	}
	n.lc.log = n.log
	return n, nil
}

// newEngine builds the consensus engine with its transport: the one the
// caller gave, else the peer-to-peer network when enabled, else none (a
// single validator).
func (n *Node) newEngine(g *chain.Genesis, vk *bls.SecretKey, nodeKey ed25519.PrivateKey, o Options) error {
	vals, err := validatorSet(g)
	if err != nil {
		return err
	}
	crypto, err := consensus.NewBLSCrypto(vk, vals)
	if err != nil {
		return err
	}
	var tr Transport = soloTransport{}
	switch {
	case o.Transport != nil && len(g.Validators) > 1:
		if tr, err = o.Transport(n.index, n.store.Block); err != nil {
			return fmt.Errorf("node: transport: %w", err)
		}
	case o.Transport == nil && n.cfg.P2P.Enabled:
		n.net, err = newNetwork(networkParams{
			cfg: n.cfg.P2P, key: nodeKey, genesis: g, self: n.index, vals: vals, crypto: crypto,
			chain: n.chain, pool: n.pool, log: o.Logger, reg: n.reg,
		})
		if err != nil {
			return fmt.Errorf("node: p2p: %w", err)
		}
		tr = n.net
	}
	n.engine, err = newBFTEngine(engineParams{
		chain: n.chain, txs: n.pool, senders: n.pool.Sender, genesis: g, crypto: crypto, self: n.index,
		net: tr, clock: o.Clock, log: o.Logger, metrics: NewConsensusMetrics(n.reg), listeners: []CommitListener{n.committed},
	})
	if err != nil {
		_ = tr.Close()
		return err
	}
	if n.net != nil {
		eng := n.engine
		f := func() *consensus.Committees { return eng.Consensus().Committees }
		n.net.committees.Store(&f)
	}
	return nil
}

// LoadValidatorKey loads the validator key the config names, decrypting it
// with the passphrase file if one is configured.
func LoadValidatorKey(cfg *Config) (*bls.SecretKey, error) {
	var pass []byte
	if cfg.Validator.PassphraseFile != "" {
		p, err := os.ReadFile(cfg.Path(cfg.Validator.PassphraseFile))
		if err != nil {
			return nil, fmt.Errorf("node: validator passphrase: %w", err)
		}
		pass = bytes.TrimRight(p, "\r\n")
	}
	vk, err := bls.LoadKeyFile(cfg.Path(cfg.Validator.KeyFile), pass)
	if err != nil {
		return nil, fmt.Errorf("node: validator key: %w", err)
	}
	return vk, nil
}

// verifyValidatorKeys checks that every genesis validator key decodes and
// carries a valid proof of possession.
func verifyValidatorKeys(g *chain.Genesis) error {
	var errs []error
	for i, v := range g.Validators {
		pk, err := bls.PublicKeyFromBytes(v.PubKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("validators[%d] (%s): public key: %w", i, v.Name, err))
			continue
		}
		pop, err := bls.SignatureFromBytes(v.ProofOfPossession)
		if err == nil {
			err = bls.VerifyPossession(pk, pop)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("validators[%d] (%s): proof of possession: %w", i, v.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n%w", chain.ErrInvalidGenesis, errors.Join(errs...))
	}
	return nil
}

// Start runs the services in order.
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

// Close stops the node if it runs and closes the store.
func (n *Node) Close() error {
	err := n.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return err
	}
	n.closed = true
	n.closeNetwork()
	return errors.Join(err, n.store.Close())
}

// closeNetwork stops the peer-to-peer host if there is one (the engine's
// Stop closes it too; closing twice is harmless).
func (n *Node) closeNetwork() {
	if n.net != nil {
		_ = n.net.Close()
	}
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
// transactions past their lifetime on the way) and the RPC subscribers.
func (n *Node) committed(p *chain.Pending) {
	n.pool.Committed(p.Changes())
	n.pool.Expire()
	if n.rpc != nil {
		n.rpc.NotifyBlock(p.Block)
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
// /p2p/<peer id>; nil without the peer-to-peer layer.
func (n *Node) P2PAddrs() []string {
	if n.net == nil {
		return nil
	}
	return n.net.host.Addrs()
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
