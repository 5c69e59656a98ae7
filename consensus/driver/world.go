package driver

import (
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Chain is the ledger a driver executes blocks on and commits them to. A
// node adapts chain.Chain and its mempool; the simulator keeps a log.
type Chain interface {
	// Head returns the height the driver decides next (the committed
	// height plus one) and the timestamp, unix ms, of the last committed
	// block (the genesis time when none).
	Head() (next uint64, timestamp uint64)
	// Committed returns the id and the encoded certificate of the
	// committed block at height (no certificate for the genesis block).
	Committed(height uint64) (id consensus.Hash, cert []byte, err error)
	// Decode decodes a block's payload (its encoding without a
	// certificate) without executing it. A payload that decodes is bound
	// to the block's ID: no other payload decodes to a block with that ID
	// (a chain whose ID hashes only a header checks the body against it
	// here), so that a proposal whose payload decodes to its BlockID
	// carries the block its proposer signed.
	Decode(payload []byte) (Block, error)
	// Build makes this validator's block at the next height for a round,
	// with a timestamp (unix ms; the chain raises one that is not after
	// its parent's), filled with pending transactions, and executed.
	Build(round, timestamp uint64) Block
	// Execute executes a decoded block on the head and returns it ready
	// to commit. notAfter bounds its timestamp (unix ms).
	Execute(b Block, notAfter uint64) (Block, error)
	// Commit makes an executed block durable with its certificate; the
	// chain then tells whoever follows it.
	Commit(b Block, qc *consensus.QC) error
}

// Block is a block a Chain decoded, built or executed.
type Block interface {
	ID() consensus.Hash
	Header() Header
	// Payload is the encoding that is proposed and certified.
	Payload() []byte
}

// Header is what the driver checks of a block before executing it.
type Header struct {
	Height uint64
	// Round is the round the block was built for.
	Round uint64
	// Proposer receives the block's fees: the address of the validator
	// that built it.
	Proposer chain.Address
	// Timestamp is unix ms.
	Timestamp uint64
	// Certified reports that the encoding carries a certificate, which a
	// proposed block never does.
	Certified bool
}

// Store keeps the driver's safety records: a *chain.Store satisfies it. Aux
// returns chain.ErrNotFound for a key never written; WriteAux applies its
// writes in one synced batch.
type Store interface {
	Aux(key []byte) ([]byte, error)
	WriteAux(ws ...chain.AuxWrite) error
}

// Transport sends what the core asks. Neither method may block: a message
// that cannot be delivered is dropped, and the protocol recovers.
type Transport interface {
	// Send hands a message to the validators in to, or to every other
	// validator when to is empty.
	Send(to []uint32, m *consensus.Message)
	// RequestBlock asks for the committed block at height, with its
	// certificate, from validator from (who has shown it is ahead), or
	// from any peer that has it; the answer comes back through StepBlock.
	RequestBlock(height uint64, from uint32)
}

// Clock is the driver's time. A node passes the system clock, the
// simulator a virtual one.
type Clock interface {
	Now() time.Time
}
