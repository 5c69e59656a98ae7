package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
)

// consensusTick is the core's unit of time.
const consensusTick = driver.DefaultTick

// ConsensusStatus is a snapshot of the consensus driver.
type ConsensusStatus = driver.Status

// Participation is, per validator, how many recent certificates it signed.
type Participation = driver.Participation

// bftEngine runs the consensus driver (package consensus/driver) on one
// goroutine: it waits for the transport's messages and fetched blocks and
// for the driver's next tick, and hands each to the driver. The driver
// does the rest; the engine only adapts the chain, the mempool and the
// transport to it.
type bftEngine struct {
	d     *driver.Driver
	net   Transport
	clock Clock
	log   *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
	failed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error
}

type engineParams struct {
	chain *chain.Chain
	txs   TxSource
	// blockTxs bounds proposals below the genesis limit (the door's
	// capacity); nil leaves them at the limit.
	blockTxs  func() int
	senders   chain.SenderLookup
	genesis   *chain.Genesis
	crypto    consensus.Crypto
	self      uint32
	net       Transport
	clock     Clock
	log       *slog.Logger
	metrics   *driver.Metrics
	listeners []CommitListener
	// bound holds the blocks gossip bound to their proposals (nil: none).
	bound *boundBlocks
}

// newBFTEngine builds the driver over the chain, resuming from the safety
// state persisted in the store.
func newBFTEngine(p engineParams) (*bftEngine, error) {
	g := p.genesis
	vals, err := validatorSet(g)
	if err != nil {
		return nil, err
	}
	cfg := driver.Config{
		Core: consensus.Config{
			ChainTag: g.Hash(), Validators: vals, Self: p.self, Crypto: p.crypto,
			Committees: g.Consensus.Committees, EpochLength: g.Consensus.EpochLength,
			Logger: p.log,
		},
		Tick: consensusTick, BlockInterval: g.BlockTime.Duration,
		Metrics: p.metrics, Logger: p.log,
	}
	for _, v := range g.Validators {
		cfg.Recipients = append(cfg.Recipients, v.Address)
	}
	cfg.SetDefaults()
	c := &driverChain{chain: p.chain, txs: p.txs, blockTxs: p.blockTxs, senders: p.senders, self: g.Validators[p.self].Address, listeners: p.listeners, bound: p.bound}
	d, err := driver.New(cfg, c, p.chain.Store(), driverTransport{p.net}, p.clock)
	if err != nil {
		return nil, err
	}
	return &bftEngine{d: d, net: p.net, clock: p.clock, log: p.log.With("module", "consensus"), failed: make(chan struct{})}, nil
}

// validatorSet builds the consensus validator set from genesis, in genesis
// order: a validator's index there is its index in votes and bitmaps.
func validatorSet(g *chain.Genesis) (*consensus.ValidatorSet, error) {
	vals := make([]consensus.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = consensus.Validator{Name: v.Name, PubKey: v.PubKey, Stake: v.Stake}
	}
	return consensus.NewValidatorSet(vals)
}

func (e *bftEngine) Name() string            { return "consensus" }
func (e *bftEngine) Failed() <-chan struct{} { return e.failed }

func (e *bftEngine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *bftEngine) Status() EngineStatus {
	st := e.d.Status()
	return EngineStatus{Height: st.Height - 1, Round: st.Round}
}

// Consensus returns a snapshot of the driver.
func (e *bftEngine) Consensus() ConsensusStatus { return e.d.Status() }

// Participation returns the driver's participation counts.
func (e *bftEngine) Participation() Participation { return e.d.Participation() }

func (e *bftEngine) Start(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	go e.loop(ctx)
	return nil
}

// Stop ends the loop after the step in progress: a block being committed is
// committed whole or not at all.
func (e *bftEngine) Stop() error {
	e.cancel()
	<-e.done
	return nil
}

func (e *bftEngine) fail(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
	e.once.Do(func() { close(e.failed) })
}

// loop hands the driver every event, then lets it catch up with the time.
func (e *bftEngine) loop(ctx context.Context) {
	defer close(e.done)
	if err := e.d.Start(); err != nil {
		e.fail(err)
		return
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case m := <-e.net.Messages():
			err = e.d.Step(m)
		case blk := <-e.net.Blocks():
			err = e.stepBlock(blk)
		case <-e.clock.After(e.d.Wake().Sub(e.clock.Now())):
		}
		if err == nil {
			err = e.d.Tick()
		}
		if err != nil {
			e.fail(err)
			return
		}
	}
}

// stepBlock hands the driver a committed block fetched from a peer.
func (e *bftEngine) stepBlock(blk *chain.Block) error {
	qc, err := consensus.DecodeQC(blk.Cert)
	if err != nil {
		e.log.Debug("fetched block without a certificate", "height", blk.Header.Height, "err", err)
		return nil
	}
	b := *blk
	b.Cert = nil
	return e.d.StepBlock(&decodedBlock{blk: &b, id: b.Hash(), payload: b.Encode()}, qc)
}

// driverChain adapts the chain and the mempool to the driver.
type driverChain struct {
	chain     *chain.Chain
	txs       TxSource
	blockTxs  func() int // the most transactions a proposal holds; nil or 0: the genesis limit
	senders   chain.SenderLookup
	self      chain.Address // this validator's fee recipient
	listeners []CommitListener
	bound     *boundBlocks
}

// decodedBlock is a block decoded from a proposal or a fetch.
type decodedBlock struct {
	blk     *chain.Block
	id      consensus.Hash
	payload []byte
}

func (b *decodedBlock) ID() consensus.Hash    { return b.id }
func (b *decodedBlock) Payload() []byte       { return b.payload }
func (b *decodedBlock) Header() driver.Header { return headerOf(b.blk) }

func headerOf(blk *chain.Block) driver.Header {
	h := &blk.Header
	return driver.Header{Height: h.Height, Round: h.Round, Proposer: h.Proposer, Timestamp: h.Timestamp, Certified: len(blk.Cert) != 0}
}

// executedBlock is a block executed on the head, ready to commit.
type executedBlock struct {
	p       *chain.Pending
	id      consensus.Hash
	payload []byte
}

func (b *executedBlock) ID() consensus.Hash    { return b.id }
func (b *executedBlock) Payload() []byte       { return b.payload }
func (b *executedBlock) Header() driver.Header { return headerOf(b.p.Block) }

func (c *driverChain) Head() (uint64, uint64) {
	h, _ := c.chain.Head()
	return h.Height + 1, h.Timestamp
}

func (c *driverChain) Committed(height uint64) (consensus.Hash, []byte, error) {
	blk, err := c.chain.Store().Block(height)
	if err != nil {
		return consensus.Hash{}, nil, err
	}
	return blk.Hash(), blk.Cert, nil
}

// Decode decodes a block bound to its hash: its transactions are checked
// against the header's root (decodeBound), as Chain.Decode requires; a
// payload gossip has bound already is not hashed again.
func (c *driverChain) Decode(payload []byte) (driver.Block, error) {
	blk, err := c.bound.decode(payload)
	if err != nil {
		return nil, err
	}
	return &decodedBlock{blk: blk, id: blk.Hash(), payload: payload}, nil
}

// maxTxs is the proposer's bound on its block, 0 for the genesis limit.
func (c *driverChain) maxTxs() int {
	if c.blockTxs == nil {
		return 0
	}
	return c.blockTxs()
}

func (c *driverChain) Build(round, timestamp uint64) driver.Block {
	b := c.chain.NewBuilder(chain.BuildParams{Proposer: c.self, Round: round, Timestamp: timestamp, MaxTxs: c.maxTxs()})
	c.txs.Fill(b)
	p := b.Finish()
	return &executedBlock{p: p, id: p.Block.Hash(), payload: p.Block.Encode()}
}

func (c *driverChain) Execute(b driver.Block, notAfter uint64) (driver.Block, error) {
	db, ok := b.(*decodedBlock)
	if !ok {
		return nil, fmt.Errorf("node: execute a %T", b)
	}
	p, err := c.chain.Execute(db.blk, c.senders, notAfter)
	if err != nil {
		return nil, err
	}
	return &executedBlock{p: p, id: db.ID(), payload: db.payload}, nil
}

// Commit writes the block with its certificate and tells the listeners.
func (c *driverChain) Commit(b driver.Block, qc *consensus.QC) error {
	eb, ok := b.(*executedBlock)
	if !ok {
		return fmt.Errorf("node: commit a %T", b)
	}
	eb.p.Block.Cert = consensus.EncodeQC(qc)
	if err := c.chain.Commit(eb.p); err != nil {
		return err
	}
	for _, l := range c.listeners {
		l(eb.p)
	}
	return nil
}

// driverTransport hands the driver's sends to the node's transport.
type driverTransport struct{ t Transport }

func (t driverTransport) Send(to []uint32, m *consensus.Message) { t.t.Send(to, m) }
func (t driverTransport) RequestBlock(height uint64, from uint32) {
	t.t.RequestBlock(height, from)
}
