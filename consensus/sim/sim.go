package sim

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Fault is how a validator misbehaves.
type Fault int

// Faults. Every faulty validator counts against the third of the stake
// that safety tolerates.
const (
	Honest        Fault = iota
	Equivocate          // as leader, proposes two blocks, each to half the validators
	DoubleVote          // votes for a second block beside every vote it casts
	BadSignatures       // corrupts the signatures of most of its messages
	Withhold            // sends no votes and no aggregates
	BadAggregator       // as aggregator, forwards corrupt aggregates or none
	Twin                // a second copy of it, same key, runs independently
)

var faultNames = map[Fault]string{Honest: "honest", Equivocate: "equivocate", DoubleVote: "double-vote", BadSignatures: "bad-signatures", Withhold: "withhold", BadAggregator: "bad-aggregator", Twin: "twin"}

func (f Fault) String() string { return faultNames[f] }

// Partition cuts the network into groups from tick From until tick To;
// validators not listed form one more group.
type Partition struct {
	From, To uint64
	Groups   [][]int
}

// Crash stops a validator at tick At, losing everything it had not
// persisted, and restarts it from its persisted state at RestartAt (never,
// if zero).
type Crash struct {
	Node          int
	At, RestartAt uint64
}

// Config describes one simulation. Everything random derives from Seed.
type Config struct {
	Seed        uint64
	Validators  int
	Stakes      []uint64 // nil: equal stakes
	Committees  int
	EpochLength uint64
	Faults      map[int]Fault
	// Network: latency in ticks, uniform in [MinLatency, MaxLatency];
	// percentages of messages lost and duplicated; reordering follows from
	// the latency spread.
	MinLatency, MaxLatency  uint64
	LossPercent, DupPercent int
	Partitions              []Partition
	Crashes                 []Crash
	// HealAt ends loss and partitions; WantHeights is how many heights
	// every running honest validator must commit after it.
	HealAt      uint64
	Ticks       uint64
	WantHeights uint64
	// Core timing, in ticks.
	TimeoutTicks, AggregateTicks, FallbackTicks uint64
	// Trace, if set, receives one line per commit and fault action.
	Trace io.Writer
	// Logger, if set, receives the cores' debug logs.
	Logger *slog.Logger
}

// Result is what a simulation observed.
type Result struct {
	Seed      uint64
	Heights   []uint64 // committed height of each validator (0: none)
	Messages  int
	Delivered int
	Ticks     uint64
	// Grown is the fewest heights a running honest validator committed
	// after HealAt.
	Grown uint64
}

// SafetyError is two honest validators committing different blocks at one
// height, or one validator skipping or repeating a height.
type SafetyError struct {
	Seed   uint64
	Tick   uint64
	Height uint64
	Detail string
}

func (e *SafetyError) Error() string {
	return fmt.Sprintf("sim seed %d: SAFETY VIOLATION at tick %d, height %d: %s", e.Seed, e.Tick, e.Height, e.Detail)
}

// LivenessError is the chain not growing enough after the network healed.
type LivenessError struct {
	Seed          uint64
	Grown, Wanted uint64
	Heights       []uint64
}

func (e *LivenessError) Error() string {
	return fmt.Sprintf("sim seed %d: liveness: honest validators committed only %d heights after the heal, want %d (heights %v)", e.Seed, e.Grown, e.Wanted, e.Heights)
}

// chainTag is the simulated chain's genesis hash.
var chainTag = chain.Keccak256([]byte("bizra sim chain"))

type record struct {
	height  uint64
	block   consensus.Hash
	payload []byte
	qc      *consensus.QC
}

type node struct {
	idx       int
	fault     Fault
	cores     []*consensus.Core // two for a twin
	crypto    *fastCrypto
	persisted *consensus.State
	log       []record
	crashed   bool
	held      map[uint64][]*consensus.Message // proposals for later heights, held by the driver
}

func (n *node) height() uint64 { return uint64(len(n.log)) }

type event struct {
	at, seq uint64
	to      int
	msg     *consensus.Message
	commit  *record // a fetched block
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simulation struct {
	cfg      Config
	rng      *rand.Rand
	vals     *consensus.ValidatorSet
	keys     [][32]byte
	nodes    []*node
	q        queue
	seq      uint64
	now      uint64
	decided  map[uint64]consensus.Hash // height → block committed by honest validators
	res      Result
	healedAt []uint64
	err      error
}

func (c *Config) defaults() {
	if c.Committees == 0 {
		c.Committees = 1
	}
	if c.EpochLength == 0 {
		c.EpochLength = 50
	}
	if c.MaxLatency == 0 {
		c.MinLatency, c.MaxLatency = 1, 4
	}
	if c.TimeoutTicks == 0 {
		c.TimeoutTicks = 40
	}
	if c.AggregateTicks == 0 {
		c.AggregateTicks = 3
	}
	if c.FallbackTicks == 0 {
		c.FallbackTicks = 12
	}
	if c.Ticks == 0 {
		c.Ticks = 3000
	}
}

// Run runs a simulation. It returns a *SafetyError as soon as safety
// breaks, a *LivenessError if the chain did not grow after the heal, or
// another error for a broken setup.
func Run(cfg Config) (*Result, error) {
	cfg.defaults()
	s := &simulation{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), decided: map[uint64]consensus.Hash{}}
	s.res.Seed = cfg.Seed
	vals := make([]consensus.Validator, cfg.Validators)
	s.keys = newFastKeys(cfg.Validators, cfg.Seed)
	for i := range vals {
		stake := uint64(100)
		if cfg.Stakes != nil {
			stake = cfg.Stakes[i]
		}
		var pk [8]byte
		binary.BigEndian.PutUint64(pk[:], uint64(i))
		vals[i] = consensus.Validator{Name: fmt.Sprint("v", i), PubKey: chain.Keccak256(pk[:]).Bytes(), Stake: stake}
	}
	var err error
	if s.vals, err = consensus.NewValidatorSet(vals); err != nil {
		return nil, err
	}
	for i := range cfg.Validators {
		n := &node{idx: i, fault: cfg.Faults[i], crypto: &fastCrypto{self: uint32(i), secrets: s.keys}, held: map[uint64][]*consensus.Message{}}
		s.nodes = append(s.nodes, n)
		copies := 1
		if n.fault == Twin {
			copies = 2
		}
		for range copies {
			c, err := s.newCore(n)
			if err != nil {
				return nil, err
			}
			n.cores = append(n.cores, c)
		}
	}
	for _, n := range s.nodes {
		for _, c := range n.cores {
			s.drain(n, c)
		}
	}
	var heightAtHeal uint64
	for s.now = 1; s.now <= cfg.Ticks && s.err == nil; s.now++ {
		if s.now == cfg.HealAt {
			heightAtHeal = s.maxHonestHeight()
		}
		s.crashes()
		for s.q.Len() > 0 && s.q[0].at <= s.now && s.err == nil {
			s.deliver(heap.Pop(&s.q).(*event))
		}
		for _, n := range s.nodes {
			if n.crashed {
				continue
			}
			for _, c := range n.cores {
				c.Tick()
				s.drain(n, c)
			}
		}
	}
	s.res.Ticks = s.now - 1
	for _, n := range s.nodes {
		s.res.Heights = append(s.res.Heights, n.height())
	}
	if s.err != nil {
		return &s.res, s.err
	}
	grown := ^uint64(0)
	for _, n := range s.nodes {
		if n.fault != Honest || n.crashed {
			continue
		}
		grown = min(grown, n.height()-min(n.height(), heightAtHeal))
	}
	s.res.Grown = grown
	if cfg.WantHeights > 0 && grown < cfg.WantHeights {
		return &s.res, &LivenessError{Seed: cfg.Seed, Grown: grown, Wanted: cfg.WantHeights, Heights: s.res.Heights}
	}
	return &s.res, nil
}

func (s *simulation) newCore(n *node) (*consensus.Core, error) {
	cfg := consensus.Config{
		ChainTag: chainTag, Validators: s.vals, Self: uint32(n.idx), Crypto: n.crypto,
		Committees: s.cfg.Committees, EpochLength: s.cfg.EpochLength,
		TimeoutTicks: s.cfg.TimeoutTicks, TimeoutGrowthPercent: 50, MaxTimeoutTicks: 20 * s.cfg.TimeoutTicks,
		AggregateTicks: s.cfg.AggregateTicks, FallbackTicks: s.cfg.FallbackTicks,
		Logger: s.cfg.Logger,
	}
	h := n.height()
	start := consensus.Start{Height: h, EpochSeed: s.seedFor(n, h), State: n.persisted}
	return consensus.NewCore(cfg, start)
}

// seedFor recomputes the committee seed of the epoch holding height h from
// a validator's own log.
func (s *simulation) seedFor(n *node, h uint64) consensus.Hash {
	epoch := h / s.cfg.EpochLength
	if epoch == 0 {
		return consensus.EpochSeed(chainTag, 0, consensus.Hash{})
	}
	return consensus.EpochSeed(chainTag, epoch, n.log[epoch*s.cfg.EpochLength-1].block)
}

func (s *simulation) maxHonestHeight() uint64 {
	var h uint64
	for _, n := range s.nodes {
		if n.fault == Honest {
			h = max(h, n.height())
		}
	}
	return h
}

func (s *simulation) crashes() {
	for _, c := range s.cfg.Crashes {
		n := s.nodes[c.Node]
		switch {
		case c.At == s.now && !n.crashed:
			n.crashed = true
			n.cores = nil
			n.held = map[uint64][]*consensus.Message{}
			s.trace("tick %d: v%d crashes at height %d", s.now, c.Node, n.height())
		case c.RestartAt != 0 && c.RestartAt == s.now && n.crashed:
			n.crashed = false
			core, err := s.newCore(n)
			if err != nil {
				s.err = err
				return
			}
			n.cores = []*consensus.Core{core}
			if n.fault == Twin {
				twin, _ := s.newCore(n)
				n.cores = append(n.cores, twin)
			}
			s.trace("tick %d: v%d restarts at height %d", s.now, c.Node, n.height())
			for _, c := range n.cores {
				s.drain(n, c)
			}
		}
	}
}

func (s *simulation) trace(format string, args ...any) {
	if s.cfg.Trace != nil {
		fmt.Fprintf(s.cfg.Trace, format+"\n", args...)
	}
}

// drain carries out everything a core asks, as a driver does: persist,
// send, commit, propose, fetch, advance; until it asks nothing more.
func (s *simulation) drain(n *node, c *consensus.Core) {
	for s.err == nil {
		rd := c.Ready()
		if rd.IsEmpty() {
			return
		}
		// Acknowledge first: applying the commits steps held proposals
		// into the core, which must not see this Ready again.
		c.Advance()
		if rd.State != nil {
			st := *rd.State
			n.persisted = &st
		}
		for _, env := range rd.Messages {
			s.send(n, env)
		}
		for _, cm := range rd.Commits {
			s.commit(n, c, cm)
		}
		if pr := rd.ProposalRequest; pr != nil {
			payload := s.payload(pr.Height, pr.Round, uint32(n.idx))
			_ = c.Propose(pr.Height, pr.Round, chain.Keccak256(payload), payload)
		}
		for _, f := range rd.Fetches {
			s.fetch(n, f)
		}
	}
}

// payload makes a block: height, round, proposer and a random nonce.
func (s *simulation) payload(h, r uint64, proposer uint32) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint64(b, h)
	binary.BigEndian.PutUint64(b[8:], r)
	binary.BigEndian.PutUint32(b[16:], proposer)
	binary.BigEndian.PutUint64(b[20:], s.rng.Uint64())
	return b
}

// validPayload is the driver's check of a proposal's block.
func validPayload(p *consensus.Proposal) bool {
	return len(p.Payload) == 28 && binary.BigEndian.Uint64(p.Payload) == p.Height && chain.Keccak256(p.Payload) == p.BlockID
}

func (s *simulation) commit(n *node, c *consensus.Core, cm consensus.Commit) {
	if n.fault == Twin && c != n.cores[0] {
		return // the twin's copy commits on its own; its log is the first copy's
	}
	if cm.Height != n.height() {
		s.fail(cm.Height, fmt.Sprintf("v%d committed height %d at log height %d", n.idx, cm.Height, n.height()))
		return
	}
	if chain.Keccak256(cm.Payload) != cm.BlockID {
		s.fail(cm.Height, fmt.Sprintf("v%d committed a payload that does not hash to its block", n.idx))
		return
	}
	n.log = append(n.log, record{height: cm.Height, block: cm.BlockID, payload: cm.Payload, qc: cm.QC})
	if n.fault == Honest {
		if prev, ok := s.decided[cm.Height]; ok && prev != cm.BlockID {
			s.fail(cm.Height, fmt.Sprintf("v%d committed %x, another honest validator committed %x", n.idx, cm.BlockID[:6], prev[:6]))
			return
		}
		s.decided[cm.Height] = cm.BlockID
	}
	s.trace("tick %d: v%d commits height %d block %x round %d", s.now, n.idx, cm.Height, cm.BlockID[:6], cm.QC.Round)
	// The driver steps the proposals it held for the next height.
	for _, m := range n.held[n.height()] {
		s.stepInto(n, m)
	}
	delete(n.held, n.height())
}

func (s *simulation) fail(h uint64, detail string) {
	if s.err == nil {
		s.err = &SafetyError{Seed: s.cfg.Seed, Tick: s.now, Height: h, Detail: detail}
	}
}

// send routes a core's message through the validator's fault (if any) and
// the network.
func (s *simulation) send(n *node, env consensus.Envelope) {
	to := env.To
	if len(to) == 0 {
		for i := range s.nodes {
			if i != n.idx {
				to = append(to, uint32(i))
			}
		}
	}
	for _, out := range s.misbehave(n, env.Msg, to) {
		for _, dst := range out.to {
			s.transmit(n.idx, int(dst), out.msg)
		}
	}
}

type routed struct {
	msg *consensus.Message
	to  []uint32
}

func (s *simulation) transmit(from, to int, m *consensus.Message) {
	s.res.Messages++
	if s.now < s.cfg.HealAt {
		if s.rng.IntN(100) < s.cfg.LossPercent || s.cut(from, to) {
			return
		}
	}
	copies := 1
	if s.now < s.cfg.HealAt && s.rng.IntN(100) < s.cfg.DupPercent {
		copies = 2
	}
	for range copies {
		s.seq++
		heap.Push(&s.q, &event{at: s.now + s.latency(), seq: s.seq, to: to, msg: m})
	}
}

func (s *simulation) latency() uint64 {
	return s.cfg.MinLatency + s.rng.Uint64N(s.cfg.MaxLatency-s.cfg.MinLatency+1)
}

// cut reports whether a partition separates two validators now.
func (s *simulation) cut(a, b int) bool {
	for _, p := range s.cfg.Partitions {
		if s.now < p.From || s.now >= p.To {
			continue
		}
		return group(p, a) != group(p, b)
	}
	return false
}

func group(p Partition, v int) int {
	for i, g := range p.Groups {
		for _, m := range g {
			if m == v {
				return i
			}
		}
	}
	return len(p.Groups)
}

// fetch answers a fetch with the block From committed at the height, sent
// over the network.
func (s *simulation) fetch(n *node, f consensus.Fetch) {
	src := s.nodes[f.From]
	if src.crashed || f.Height >= src.height() {
		return
	}
	r := src.log[f.Height]
	if s.now < s.cfg.HealAt && (s.rng.IntN(100) < s.cfg.LossPercent || s.cut(src.idx, n.idx)) {
		return
	}
	s.seq++
	heap.Push(&s.q, &event{at: s.now + s.latency(), seq: s.seq, to: n.idx, commit: &r})
}

func (s *simulation) deliver(e *event) {
	n := s.nodes[e.to]
	if n.crashed {
		return
	}
	s.res.Delivered++
	if e.commit != nil {
		for _, c := range n.cores {
			if e.commit.height == c.Height() && chain.Keccak256(e.commit.payload) == e.commit.block {
				_ = c.StepCommitted(e.commit.payload, e.commit.qc)
				s.drain(n, c)
			}
		}
		return
	}
	s.stepInto(n, e.msg)
}

// stepInto is the driver's receive path: check a proposal's block, hold
// proposals for later heights, step the rest.
func (s *simulation) stepInto(n *node, m *consensus.Message) {
	if m.Kind == consensus.KindProposal {
		if !validPayload(m.Proposal) {
			return
		}
		if m.Proposal.Height > n.height() {
			if m.Proposal.Height <= n.height()+2 && len(n.held[m.Proposal.Height]) < 64 {
				n.held[m.Proposal.Height] = append(n.held[m.Proposal.Height], m)
			}
			return
		}
	}
	for _, c := range n.cores {
		_ = c.Step(m)
		s.drain(n, c)
	}
}

// sortedInts returns the keys of a fault map in order, for reports.
func sortedInts(m map[int]Fault) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
