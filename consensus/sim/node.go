package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
)

// A simulated validator is the driver a node runs, over in-memory
// implementations of its chain, store, transport and clock. A twin runs
// two machines with one key, each with its own chain and store.
type node struct {
	idx      int
	fault    Fault
	machines []*machine
	crypto   *fastCrypto
	// persisted is the State machine 0 last wrote to its store.
	persisted *consensus.State
	crashed   bool
	tornAt    uint64 // a torn crash is armed from this tick (0: none)
	// dying is a torn crash striking: a block was applied, and the store
	// and the network refuse everything from now on until the crash.
	dying  bool
	rounds uint64 // rounds of drivers that are gone
	// What the checker saw this validator sign: every signature, across
	// restarts, and those not yet matched with a persisted State.
	signed  map[sigKey]consensus.Hash
	pending []signature
	// A LockAttack validator's knowledge; the round a Usurp validator
	// last proposed in, as height+1 and round.
	attack  *attacker
	usurped [2]uint64
	// executions counts, per height and proposal round, the proposed
	// blocks machine 0's driver executed since it started (flooded).
	executions map[[2]uint64]int
}

// machine is one running copy of a validator.
type machine struct {
	idx       int
	chain     *simChain
	store     *simStore
	transport *simTransport
	drv       *driver.Driver // nil while crashed
}

func newNode(s *simulation, i int, f Fault) *node {
	n := &node{idx: i, fault: f, signed: map[sigKey]consensus.Hash{}}
	if f == LockAttack {
		n.attack = newAttacker()
	}
	copies := 1
	if f == Twin {
		copies = 2
	}
	for k := range copies {
		n.machines = append(n.machines, &machine{
			idx:       k,
			chain:     &simChain{s: s, n: n, machine: k},
			store:     &simStore{s: s, n: n, machine: k, kv: map[string][]byte{}},
			transport: &simTransport{s: s, n: n, machine: k},
		})
	}
	return n
}

// log is the validator's committed chain: machine 0's.
func (n *node) log() []record { return n.machines[0].chain.log }

func (n *node) height() uint64 { return uint64(len(n.log())) }

// driver returns machine k's driver, nil while crashed.
func (n *node) driver(k int) *driver.Driver {
	if n.crashed || k >= len(n.machines) {
		return nil
	}
	return n.machines[k].drv
}

// forget empties the stores: an amnesiac restart.
func (n *node) forget() {
	for _, m := range n.machines {
		clear(m.store.kv)
	}
	n.persisted = nil
}

type record struct {
	height    uint64
	block     consensus.Hash
	payload   []byte
	qc        *consensus.QC
	timestamp uint64
}

// The simulated block: a payload of height u64, round u64, proposer u32,
// timestamp (unix ms) u64 and a random nonce u64; its id is its Keccak
// hash.
const payloadLen = 36

// simAddress is the fee recipient of validator i.
func simAddress(i uint32) chain.Address {
	var a chain.Address
	binary.BigEndian.PutUint32(a[16:], i+1)
	return a
}

// payload makes a block for height h, round r by proposer at timestamp ts.
func (s *simulation) payload(h, r uint64, proposer uint32, ts uint64) []byte {
	b := make([]byte, payloadLen)
	binary.BigEndian.PutUint64(b, h)
	binary.BigEndian.PutUint64(b[8:], r)
	binary.BigEndian.PutUint32(b[16:], proposer)
	binary.BigEndian.PutUint64(b[20:], ts)
	binary.BigEndian.PutUint64(b[28:], s.rng.Uint64())
	return b
}

var errPayload = errors.New("sim: malformed block")

// simBlock is a decoded simulated block; simulated blocks carry no state,
// so a decoded block is also an executed one.
type simBlock struct {
	id      consensus.Hash
	header  driver.Header
	payload []byte
}

func (b *simBlock) ID() consensus.Hash    { return b.id }
func (b *simBlock) Header() driver.Header { return b.header }
func (b *simBlock) Payload() []byte       { return b.payload }
func (b *simBlock) proposer() uint32      { return binary.BigEndian.Uint32(b.payload[16:]) }

func decodeBlock(p []byte) (*simBlock, error) {
	if len(p) != payloadLen {
		return nil, fmt.Errorf("%w: %d bytes", errPayload, len(p))
	}
	proposer := binary.BigEndian.Uint32(p[16:])
	return &simBlock{
		id: chain.Keccak256(p),
		header: driver.Header{
			Height: binary.BigEndian.Uint64(p), Round: binary.BigEndian.Uint64(p[8:]),
			Proposer: simAddress(proposer), Timestamp: binary.BigEndian.Uint64(p[20:]),
		},
		payload: p,
	}, nil
}

// validProposal is what an attacker takes for a block it may use: one that
// decodes, for the proposal's height, with the proposal's id.
func validProposal(p *consensus.Proposal) bool {
	b, err := decodeBlock(p.Payload)
	return err == nil && b.header.Height == p.Height && b.id == p.BlockID
}

// timestampAfter is a timestamp for a block on parent: now, or just after
// the parent if that is later.
func (s *simulation) timestampAfter(parent uint64) uint64 {
	return max(uint64(simClock{s}.Now().UnixMilli()), parent+1)
}

// simChain is a machine's ledger: the log of the blocks it committed.
type simChain struct {
	s       *simulation
	n       *node
	machine int
	log     []record
	// proposalsExecuted counts the proposed blocks executed (not the
	// certified ones), for the flooded check.
	proposalsExecuted int
}

func (c *simChain) Head() (uint64, uint64) {
	if len(c.log) == 0 {
		return 0, genesisMs
	}
	return uint64(len(c.log)), c.log[len(c.log)-1].timestamp
}

func (c *simChain) Committed(h uint64) (consensus.Hash, []byte, error) {
	if h >= uint64(len(c.log)) {
		return consensus.Hash{}, nil, fmt.Errorf("sim: no block at height %d", h)
	}
	return c.log[h].block, consensus.EncodeQC(c.log[h].qc), nil
}

func (c *simChain) Decode(p []byte) (driver.Block, error) { return decodeBlock(p) }

func (c *simChain) Build(round, ts uint64) driver.Block {
	next, parent := c.Head()
	b, _ := decodeBlock(c.s.payload(next, round, uint32(c.n.idx), max(ts, parent+1)))
	return b
}

// Execute checks what a chain would: the block follows the head, its
// timestamp is after its parent's and not after notAfter, and its proposer
// is a validator.
func (c *simChain) Execute(b driver.Block, notAfter uint64) (driver.Block, error) {
	next, parent := c.Head()
	h := b.Header()
	blk, ok := b.(*simBlock)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: not a simulated block", errPayload)
	case h.Height != next:
		return nil, fmt.Errorf("%w: height %d on head %d", errPayload, h.Height, next)
	case h.Timestamp <= parent || h.Timestamp > notAfter:
		return nil, fmt.Errorf("%w: timestamp %d, parent %d, bound %d", errPayload, h.Timestamp, parent, notAfter)
	}
	if p := blk.proposer(); int(p) >= c.s.vals.Len() {
		return nil, fmt.Errorf("%w: proposer %d", errPayload, p)
	}
	if notAfter != math.MaxUint64 {
		c.proposalsExecuted++ // a proposal, not a certified block
	}
	return b, nil
}

// Commit appends a decided block; for machine 0, the log the checks
// read. A torn crash strikes here, once the block is applied.
func (c *simChain) Commit(b driver.Block, qc *consensus.QC) error {
	s, n := c.s, c.n
	h, id := b.Header().Height, b.ID()
	if h != uint64(len(c.log)) {
		s.fail("log", n.idx, h, fmt.Sprintf("v%d committed height %d at log height %d", n.idx, h, len(c.log)))
		return errors.New("sim: commit out of order")
	}
	if chain.Keccak256(b.Payload()) != id || qc.BlockID != id {
		s.fail("log", n.idx, h, fmt.Sprintf("v%d committed a payload that does not hash to its block", n.idx))
		return errors.New("sim: commit of a wrong block")
	}
	c.log = append(c.log, record{height: h, block: id, payload: b.Payload(), qc: qc, timestamp: b.Header().Timestamp})
	if n.tornAt != 0 {
		n.dying = true
	}
	if c.machine > 0 {
		return nil // a twin's second machine commits on its own; the checks read the first's
	}
	if n.fault == Honest {
		s.check.committed(n, h, qc)
		if prev, ok := s.decided[h]; ok && prev != id {
			s.fail("fork", n.idx, h, fmt.Sprintf("v%d committed %x, another honest validator committed %x", n.idx, id[:6], prev[:6]))
			return nil
		}
		s.decided[h] = id
	}
	s.trace("tick %d: v%d commits height %d block %x round %d", s.now, n.idx, h, id[:6], qc.Round)
	return nil
}

// simStore is a machine's durable records; a crash keeps them, an
// amnesiac restart loses them.
type simStore struct {
	s       *simulation
	n       *node
	machine int
	kv      map[string][]byte
}

func (st *simStore) Aux(key []byte) ([]byte, error) {
	v, ok := st.kv[string(key)]
	if !ok {
		return nil, chain.ErrNotFound
	}
	return v, nil
}

// WriteAux applies the writes; the consensus state machine 0 writes is
// checked against the last one and becomes the validator's persisted
// State.
func (st *simStore) WriteAux(ws ...chain.AuxWrite) error {
	if st.n.dying {
		return errCrashed
	}
	for _, w := range ws {
		switch {
		case w.Delete && w.End != nil:
			for _, k := range slices.Collect(maps.Keys(st.kv)) {
				if bytes.Compare([]byte(k), w.Key) >= 0 && bytes.Compare([]byte(k), w.End) < 0 {
					delete(st.kv, k)
				}
			}
		case w.Delete:
			delete(st.kv, string(w.Key))
		default:
			st.kv[string(w.Key)] = w.Value // the driver never changes what it wrote
		}
		if st.machine == 0 && !w.Delete && bytes.Equal(w.Key, driver.StateKey()) {
			state, err := consensus.DecodeState(w.Value)
			if err != nil {
				return err
			}
			st.s.check.regressed(st.n, state)
			st.n.persisted = state
		}
	}
	return nil
}

// simTransport is a machine's network: what its driver sends goes through
// the validator's fault, then the simulated network.
type simTransport struct {
	s       *simulation
	n       *node
	machine int
}

func (t *simTransport) Send(to []uint32, m *consensus.Message) {
	if t.n.dying || t.n.crashed {
		return
	}
	t.s.check.persisted(t.n)
	t.s.send(t.n, t.machine, consensus.Envelope{To: to, Msg: m})
}

func (t *simTransport) RequestBlock(height uint64, from uint32) {
	if t.n.dying || t.n.crashed {
		return
	}
	t.s.fetch(t.n, t.machine, consensus.Fetch{Height: height, From: from})
}

// simClock is the simulation's virtual time.
type simClock struct{ s *simulation }

func (c simClock) Now() time.Time {
	return time.UnixMilli(genesisMs).Add(time.Duration(c.s.now) * tick)
}
