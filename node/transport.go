package node

import (
	"sync"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Transport carries consensus messages and committed blocks between
// validators. A single validator needs none (soloTransport); MemNetwork
// joins validators in one process; the peer-to-peer network implements
// the same interface. A transport a TransportFactory makes that also
// implements io.Closer is closed by Node.Close.
type Transport interface {
	// Send hands a message to the validators in to, or to every other
	// validator when to is empty. It must not block: a message that cannot
	// be delivered is dropped, and the protocol recovers from losses.
	Send(to []uint32, m *consensus.Message)
	// Messages delivers checked-to-decode messages from other validators.
	Messages() <-chan *consensus.Message
	// RequestBlock asks validator from for the committed block at height,
	// with its certificate; an answer arrives on Blocks.
	RequestBlock(height uint64, from uint32)
	// Blocks delivers answers to RequestBlock.
	Blocks() <-chan *chain.Block
}

// BlockSource returns a committed block by height; a transport serves
// other validators' RequestBlock from it.
type BlockSource func(height uint64) (*chain.Block, error)

// TransportFactory connects validator self to its peers. The node calls it
// once, with its own committed blocks to serve.
type TransportFactory func(self uint32, blocks BlockSource) (Transport, error)

// soloTransport is the transport of a validator that is the whole set:
// there is nobody to send to or hear from.
type soloTransport struct{}

func (soloTransport) Send([]uint32, *consensus.Message)   {}
func (soloTransport) Messages() <-chan *consensus.Message { return nil }
func (soloTransport) RequestBlock(uint64, uint32)         {}
func (soloTransport) Blocks() <-chan *chain.Block         { return nil }

// MemNetwork connects validators running in one process, for tests and
// in-process testnets. Messages travel encoded, as on a real network, and
// are decoded on arrival; a full inbox drops what does not fit. Drop, if
// set, decides per message whether the network loses it.
type MemNetwork struct {
	mu      sync.RWMutex
	members map[uint32]*memEndpoint
	drop    func(from, to uint32, m *consensus.Message) bool
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork { return &MemNetwork{members: map[uint32]*memEndpoint{}} }

// SetDrop installs a loss rule, nil for none: drop(from, to, m) true loses
// m on its way from validator from to validator to.
func (n *MemNetwork) SetDrop(drop func(from, to uint32, m *consensus.Message) bool) {
	n.mu.Lock()
	n.drop = drop
	n.mu.Unlock()
}

// Join is a TransportFactory: it connects validator self. A validator that
// joins again (a restarted node) replaces its old endpoint.
func (n *MemNetwork) Join(self uint32, blocks BlockSource) (Transport, error) {
	e := &memEndpoint{
		net: n, self: self, source: blocks,
		msgs: make(chan *consensus.Message, consensusInbox), blocks: make(chan *chain.Block, 64),
	}
	n.mu.Lock()
	n.members[self] = e
	n.mu.Unlock()
	return e, nil
}

type memEndpoint struct {
	net    *MemNetwork
	self   uint32
	source BlockSource
	msgs   chan *consensus.Message
	blocks chan *chain.Block
	closed bool // under net.mu
}

func (e *memEndpoint) Send(to []uint32, m *consensus.Message) {
	raw := m.Encode()
	e.net.mu.RLock()
	defer e.net.mu.RUnlock()
	deliver := func(id uint32, dst *memEndpoint) {
		if dst == nil || dst.closed || id == e.self || (e.net.drop != nil && e.net.drop(e.self, id, m)) {
			return
		}
		cp, err := consensus.DecodeMessage(raw)
		if err != nil {
			return // the sender's encoder is the one under test; nothing to deliver
		}
		select {
		case dst.msgs <- cp:
		default:
		}
	}
	if len(to) == 0 {
		for id, dst := range e.net.members {
			deliver(id, dst)
		}
		return
	}
	for _, id := range to {
		deliver(id, e.net.members[id])
	}
}

func (e *memEndpoint) Messages() <-chan *consensus.Message { return e.msgs }
func (e *memEndpoint) Blocks() <-chan *chain.Block         { return e.blocks }

func (e *memEndpoint) RequestBlock(height uint64, from uint32) {
	e.net.mu.RLock()
	src := e.net.members[from]
	e.net.mu.RUnlock()
	if src == nil || src.source == nil {
		return
	}
	go func() {
		blk, err := src.source(height)
		if err != nil {
			return
		}
		// A copy, as if it had crossed the network.
		cp, err := chain.DecodeBlock(blk.Encode())
		if err != nil {
			return
		}
		e.net.mu.RLock()
		defer e.net.mu.RUnlock()
		if e.closed {
			return
		}
		select {
		case e.blocks <- cp:
		default:
		}
	}()
}

// Close leaves the network.
func (e *memEndpoint) Close() error {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	e.closed = true
	if e.net.members[e.self] == e {
		delete(e.net.members, e.self)
	}
	return nil
}
