package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bizra/node0/chain"
)

// Engine decides which blocks commit and drives block production. The node
// starts it as a service. The interim soloEngine commits the blocks of the
// only validator; the BFT engine of the consensus package will implement
// the same interface, so replacing one with the other touches neither chain
// nor the other services.
type Engine interface {
	Service
	// Status reports the engine's progress.
	Status() EngineStatus
	// Failed is closed when the engine has stopped on an error it cannot
	// recover from; Err then returns it. The node shuts down.
	Failed() <-chan struct{}
	Err() error
}

// EngineStatus is a snapshot of an engine's progress.
type EngineStatus struct {
	Height uint64 // last committed height
	Round  uint64 // current round
}

// Clock is the time source of drivers. Only drivers hold one; the chain and
// the consensus core never read the time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// TxSource is what block production takes transactions from; the mempool
// implements it.
type TxSource interface {
	// Fill offers transactions to the block until it is full.
	Fill(b *chain.Builder) int
}

// CommitListener is told about every committed block, after it is durable.
type CommitListener func(p *chain.Pending)

// soloEngine produces a block every block time and commits it at once. It
// is correct only for a validator that holds more than two thirds of the
// stake on its own, which the node checks before starting it.
type soloEngine struct {
	chain     *chain.Chain
	txs       TxSource
	proposer  chain.Address
	interval  time.Duration
	clock     Clock
	log       *slog.Logger
	listeners []CommitListener

	cancel context.CancelFunc
	done   chan struct{}
	failed chan struct{}
	mu     sync.Mutex
	err    error
}

func newSoloEngine(c *chain.Chain, txs TxSource, proposer chain.Address, interval time.Duration, clock Clock, log *slog.Logger, listeners ...CommitListener) *soloEngine {
	return &soloEngine{
		chain:     c,
		txs:       txs,
		proposer:  proposer,
		interval:  interval,
		clock:     clock,
		log:       log.With("module", "engine"),
		listeners: listeners,
		failed:    make(chan struct{}),
	}
}

func (e *soloEngine) Failed() <-chan struct{} { return e.failed }

func (e *soloEngine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *soloEngine) Name() string { return "engine" }

func (e *soloEngine) Status() EngineStatus {
	h, _ := e.chain.Head()
	return EngineStatus{Height: h.Height, Round: h.Round}
}

func (e *soloEngine) Start(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	go e.loop(ctx)
	return nil
}

// Stop waits for the block in progress: it is either committed whole or
// never written. The error that stopped the engine, if any, is reported by
// Err, not again here.
func (e *soloEngine) Stop() error {
	e.cancel()
	<-e.done
	return nil
}

func (e *soloEngine) loop(ctx context.Context) {
	defer close(e.done)
	warned := false
	for {
		head, _ := e.chain.Head()
		next := time.UnixMilli(int64(head.Timestamp)).Add(e.interval)
		wait := next.Sub(e.clock.Now())
		switch {
		case wait < 0:
			wait = 0
		case wait > e.interval:
			// The head is ahead of this clock (the clock stepped back, or a
			// block carries a future time). Keep producing on the interval;
			// the builder keeps timestamps increasing.
			if !warned {
				e.log.Warn("head timestamp is ahead of the local clock", "ahead", wait-e.interval)
				warned = true
			}
			wait = e.interval
		}
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(wait):
		}
		if err := e.produce(); err != nil {
			// A block that cannot be written means the store is broken:
			// stop producing rather than build on a head that is unsure,
			// and let the node shut down.
			e.mu.Lock()
			e.err = err
			e.mu.Unlock()
			close(e.failed)
			return
		}
	}
}

func (e *soloEngine) produce() error {
	start := e.clock.Now()
	head, _ := e.chain.Head()
	b := e.chain.NewBuilder(chain.BuildParams{
		Proposer:  e.proposer,
		Round:     head.Height + 1, // one round per block: nobody to wait for
		Timestamp: uint64(start.UnixMilli()),
	})
	e.txs.Fill(b)
	p := b.Finish()
	built := e.clock.Now()
	if err := e.chain.Commit(p); err != nil {
		return fmt.Errorf("commit block %d: %w", p.Block.Header.Height, err)
	}
	for _, l := range e.listeners {
		l(p)
	}
	e.log.Info("committed block",
		"height", p.Block.Header.Height,
		"txs", len(p.Block.Txs),
		"hash", p.Block.Hash(),
		"build_ms", built.Sub(start).Milliseconds(),
		"commit_ms", e.clock.Now().Sub(built).Milliseconds())
	return nil
}
