package node

import (
	"time"

	"github.com/bizra/node0/chain"
)

// Engine decides which blocks commit and drives block production. The node
// starts it as a service; bftEngine (consensus.go) drives the BFT core of
// package consensus.
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

var _ Engine = (*bftEngine)(nil)
