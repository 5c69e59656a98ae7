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
	// LockAttack votes for every proposal and every prevote certificate it
	// sees, whatever it is locked on, and as leader proposes the block of
	// the oldest prevote certificate it knows rather than the newest: the
	// moves that make validators commit conflicting blocks if their lock
	// rules are wrong.
	LockAttack
	// Forge, as leader, equivocates and sends each half, with its block,
	// two false commit certificates for it: one naming every validator
	// with a bogus signature, one signed by itself alone.
	Forge
	// Usurp proposes a block of its own in every round it does not lead.
	Usurp
	// Mute proposes nothing when it leads (a silent leader); it votes.
	Mute
)

var faultNames = map[Fault]string{
	Honest: "honest", Equivocate: "equivocate", DoubleVote: "double-vote", BadSignatures: "bad-signatures",
	Withhold: "withhold", BadAggregator: "bad-aggregator", Twin: "twin", LockAttack: "lock-attack",
	Forge: "forge", Usurp: "usurp", Mute: "mute",
}

func (f Fault) String() string { return faultNames[f] }

// ParseFault returns the fault with a name, as String writes it.
func ParseFault(name string) (Fault, bool) {
	for f, n := range faultNames {
		if n == name {
			return f, true
		}
	}
	return 0, false
}

// Machine names where a validator runs: the validator's index for its
// (first) machine, SecondCopy(index) for a twin's second one.
//
// SecondCopy returns the machine of a twin's second copy, for partitions.
func SecondCopy(v int) int { return -1 - v }

// Partition cuts the network into groups of machines from tick From until
// tick To; machines not listed form one more group. A validator's index
// stands for all its machines unless its second copy is listed apart.
type Partition struct {
	From, To uint64
	Groups   [][]int
}

// Crash stops a validator at tick At, losing everything it had not
// persisted, and restarts it at RestartAt (never, if zero) from its chain
// and its persisted state, or with Amnesia from its chain alone. A Torn
// crash happens instead at the first Ready at or after At that commits a
// block: after the driver applied the block, before it persisted the
// State and sent the messages.
type Crash struct {
	Node          int
	At, RestartAt uint64
	Amnesia, Torn bool
}

// KindBlock stands for a committed block sent in answer to a fetch, in
// rules.
const KindBlock consensus.Kind = 0

// Span is an inclusive range.
type Span struct{ Lo, Hi uint64 }

func (s *Span) has(x uint64) bool { return s == nil || (s.Lo <= x && x <= s.Hi) }

// Rule drops or delays the messages that match all its filters, between
// ticks From and To (To 0: until the end). Empty filters match anything.
// Rules are the scenarios' scalpel: the network an attacker wishes for.
type Rule struct {
	From, To           uint64
	Kinds              []consensus.Kind   // KindBlock for fetched blocks
	Type               consensus.VoteType // votes, aggregates and certificates of this type
	Senders, Receivers []int              // validator indexes
	Height, Round      *Span
	Delay              uint64 // 0 drops
}

// Probe checks the simulation after tick At.
type Probe struct {
	At    uint64
	What  string
	Check func(v *View) error
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
	Rules                   []Rule
	Crashes                 []Crash
	// HealAt ends loss and partitions; WantHeights is how many heights
	// every running honest validator must commit after it.
	HealAt      uint64
	Ticks       uint64
	WantHeights uint64
	// Core timing, in ticks.
	TimeoutTicks, AggregateTicks, FallbackTicks uint64
	Probes                                      []Probe
	// Trace, if set, receives one line per commit and fault action, and
	// with TraceMessages one per message sent.
	Trace         io.Writer
	TraceMessages bool
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
	// Rounds is the number of rounds the honest validators went through,
	// heights' first rounds included, averaged over them.
	Rounds uint64
	// Grown is the fewest heights a running honest validator committed
	// after HealAt.
	Grown uint64
	// Signatures counts the proposals and votes the checker saw signed.
	Signatures int
}

// SafetyError is a broken safety property: two honest validators
// committing different blocks at one height (Kind "fork"), an honest
// validator signing two different blocks for one height, round and
// message type ("double-sign"), sending a signature its persisted State
// does not record ("unpersisted"), voting or committing without the
// proposal, proof of lock or quorum of signatures that justify it
// ("unjustified"), persisting a State that goes back ("regressed"), or
// skipping or repeating a height ("log").
type SafetyError struct {
	Seed      uint64
	Tick      uint64
	Height    uint64
	Kind      string
	Validator int
	Detail    string
}

func (e *SafetyError) Error() string {
	return fmt.Sprintf("sim seed %d: SAFETY VIOLATION (%s) at tick %d, height %d: %s", e.Seed, e.Kind, e.Tick, e.Height, e.Detail)
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

// ProbeError is a probe's check failing.
type ProbeError struct {
	Seed uint64
	Tick uint64
	What string
	Err  error
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("sim seed %d: at tick %d, expected %s: %v", e.Seed, e.Tick, e.What, e.Err)
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
	cores     []*consensus.Core // two for a twin: its machines
	crypto    *fastCrypto
	persisted *consensus.State
	log       []record
	crashed   bool
	tornAt    uint64                          // a torn crash is armed from this tick (0: none)
	held      map[uint64][]*consensus.Message // proposals for later heights, held by the driver
	fetchedAt map[uint64]uint64               // the driver's own fetches: height → tick
	rounds    uint64                          // rounds of cores that are gone
	// What the checker saw this validator sign: every signature, across
	// restarts, and those not yet matched with a persisted State.
	signed  map[sigKey]consensus.Hash
	pending []signature
	// A LockAttack validator's knowledge; the round a Usurp validator
	// last proposed in, as height+1 and round.
	attack  *attacker
	usurped [2]uint64
}

func (n *node) height() uint64 { return uint64(len(n.log)) }

type event struct {
	at, seq uint64
	to      int
	machine int // which of the validator's cores
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
	cfg     Config
	rng     *rand.Rand
	vals    *consensus.ValidatorSet
	keys    [][32]byte
	nodes   []*node
	q       queue
	seq     uint64
	now     uint64
	decided map[uint64]consensus.Hash // height → block committed by honest validators
	check   checker
	res     Result
	err     error
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
// breaks, a *ProbeError when a probe fails, a *LivenessError if the chain
// did not grow after the heal, or another error for a broken setup.
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
	s.check = newChecker(s)
	aggs := &aggCache{m: map[[32]byte][32]byte{}}
	for i := range cfg.Validators {
		n := &node{idx: i, fault: cfg.Faults[i], held: map[uint64][]*consensus.Message{}, fetchedAt: map[uint64]uint64{}, signed: map[sigKey]consensus.Hash{}}
		n.crypto = &fastCrypto{self: uint32(i), secrets: s.keys, aggs: aggs, onSign: func(msg []byte) { s.check.signed(n, msg) }}
		if n.fault == LockAttack {
			n.attack = newAttacker()
		}
		s.nodes = append(s.nodes, n)
		if err := s.boot(n); err != nil {
			return nil, err
		}
	}
	for _, n := range s.nodes {
		s.drainAll(n)
	}
	probes := append([]Probe(nil), cfg.Probes...)
	sort.SliceStable(probes, func(i, j int) bool { return probes[i].At < probes[j].At })
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
			for i := 0; i < len(n.cores) && s.err == nil; i++ {
				n.cores[i].Tick()
				s.drain(n, i)
			}
			s.usurp(n)
		}
		for len(probes) > 0 && probes[0].At <= s.now && s.err == nil {
			if err := probes[0].Check(&View{s}); err != nil {
				s.err = &ProbeError{Seed: cfg.Seed, Tick: s.now, What: probes[0].What, Err: err}
			}
			probes = probes[1:]
		}
	}
	s.res.Ticks = s.now - 1
	honest := uint64(0)
	for _, n := range s.nodes {
		s.res.Heights = append(s.res.Heights, n.height())
		if n.fault == Honest {
			honest++
			s.res.Rounds += n.rounds
			for _, c := range n.cores {
				s.res.Rounds += c.Stats().Rounds
			}
		}
	}
	if honest > 0 {
		s.res.Rounds /= honest
	}
	s.res.Signatures = s.check.count
	if s.err != nil {
		return &s.res, s.err
	}
	if len(probes) > 0 {
		return &s.res, fmt.Errorf("sim: probe %q at tick %d is after the last tick %d", probes[0].What, probes[0].At, cfg.Ticks)
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

// boot starts a validator's cores: from its chain and persisted state, or
// from its chain alone.
func (s *simulation) boot(n *node) error {
	copies := 1
	if n.fault == Twin {
		copies = 2
	}
	n.cores = nil
	for range copies {
		c, err := s.newCore(n)
		if err != nil {
			return err
		}
		n.cores = append(n.cores, c)
	}
	return nil
}

func (s *simulation) drainAll(n *node) {
	for i := 0; i < len(n.cores) && s.err == nil; i++ {
		s.drain(n, i)
	}
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
		case c.At == s.now && !n.crashed && c.Torn:
			n.tornAt = s.now
		case c.At == s.now && !n.crashed:
			s.crash(n)
		case c.RestartAt != 0 && c.RestartAt == s.now && n.crashed:
			n.crashed = false
			if c.Amnesia {
				n.persisted = nil
			}
			if err := s.boot(n); err != nil {
				s.err = err
				return
			}
			how := "from its persisted state"
			if c.Amnesia || n.persisted == nil {
				how = "with no persisted state"
			}
			s.trace("tick %d: v%d restarts at height %d %s", s.now, c.Node, n.height(), how)
			s.drainAll(n)
		}
	}
}

func (s *simulation) crash(n *node) {
	n.crashed = true
	n.tornAt = 0
	for _, c := range n.cores {
		n.rounds += c.Stats().Rounds
	}
	n.cores = nil
	n.held = map[uint64][]*consensus.Message{}
	n.pending = nil
	s.trace("tick %d: v%d crashes at height %d", s.now, n.idx, n.height())
}

func (s *simulation) trace(format string, args ...any) {
	if s.cfg.Trace != nil {
		fmt.Fprintf(s.cfg.Trace, format+"\n", args...)
	}
}

// drain carries out everything a core asks, as a driver does: apply the
// commits, persist the state, send, propose, fetch, advance; until it asks
// nothing more. Proposals the driver held for the height it reaches are
// stepped last.
func (s *simulation) drain(n *node, machine int) {
	for s.err == nil && !n.crashed && machine < len(n.cores) {
		c := n.cores[machine]
		rd := c.Ready()
		if rd.IsEmpty() {
			return
		}
		c.Advance()
		var held []*consensus.Message
		for _, cm := range rd.Commits {
			held = append(held, s.commit(n, machine, cm)...)
		}
		if n.tornAt != 0 && len(rd.Commits) > 0 {
			s.trace("tick %d: v%d crashes after applying height %d, before persisting its state", s.now, n.idx, rd.Commits[len(rd.Commits)-1].Height)
			s.crash(n)
			return
		}
		if rd.State != nil {
			st := *rd.State
			s.check.regressed(n, &st)
			n.persisted = &st
		}
		s.check.persisted(n)
		for _, env := range rd.Messages {
			s.send(n, machine, env)
		}
		if pr := rd.ProposalRequest; pr != nil {
			payload := s.payload(pr.Height, pr.Round, uint32(n.idx))
			_ = c.Propose(pr.Height, pr.Round, chain.Keccak256(payload), payload)
		}
		for _, f := range rd.Fetches {
			s.fetch(n, machine, f)
		}
		for _, m := range held {
			s.stepInto(n, machine, m)
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

// commit applies a committed block and returns the proposals held for the
// next height.
func (s *simulation) commit(n *node, machine int, cm consensus.Commit) []*consensus.Message {
	if machine > 0 {
		return nil // a twin's second machine commits on its own; the log is the first's
	}
	if cm.Height != n.height() {
		s.fail("log", n.idx, cm.Height, fmt.Sprintf("v%d committed height %d at log height %d", n.idx, cm.Height, n.height()))
		return nil
	}
	if chain.Keccak256(cm.Payload) != cm.BlockID {
		s.fail("log", n.idx, cm.Height, fmt.Sprintf("v%d committed a payload that does not hash to its block", n.idx))
		return nil
	}
	n.log = append(n.log, record{height: cm.Height, block: cm.BlockID, payload: cm.Payload, qc: cm.QC})
	if n.fault == Honest {
		s.check.committed(n, cm)
		if prev, ok := s.decided[cm.Height]; ok && prev != cm.BlockID {
			s.fail("fork", n.idx, cm.Height, fmt.Sprintf("v%d committed %x, another honest validator committed %x", n.idx, cm.BlockID[:6], prev[:6]))
			return nil
		}
		s.decided[cm.Height] = cm.BlockID
	}
	s.trace("tick %d: v%d commits height %d block %x round %d", s.now, n.idx, cm.Height, cm.BlockID[:6], cm.QC.Round)
	held := n.held[n.height()]
	delete(n.held, n.height())
	return held
}

func (s *simulation) fail(kind string, v int, h uint64, detail string) {
	if s.err == nil {
		s.err = &SafetyError{Seed: s.cfg.Seed, Tick: s.now, Height: h, Kind: kind, Validator: v, Detail: detail}
	}
}

// send routes a core's message through the validator's fault (if any) and
// the network.
func (s *simulation) send(n *node, machine int, env consensus.Envelope) {
	to := env.To
	if len(to) == 0 {
		for i := range s.nodes {
			if i != n.idx {
				to = append(to, uint32(i))
			}
		}
	}
	if s.cfg.TraceMessages {
		s.trace("tick %d: v%d sends %s to %v", s.now, n.idx, describeMessage(env.Msg), env.To)
	}
	for _, out := range s.misbehave(n, env.Msg, to) {
		for _, dst := range out.to {
			s.transmit(n.idx, machine, int(dst), out.msg)
		}
	}
}

type routed struct {
	msg *consensus.Message
	to  []uint32
}

// machineID names a machine for partitions.
func machineID(v, machine int) int {
	if machine > 0 {
		return SecondCopy(v)
	}
	return v
}

func (s *simulation) transmit(from, fromMachine, to int, m *consensus.Message) {
	s.res.Messages++
	machines := 1
	if s.nodes[to].fault == Twin {
		machines = 2
	}
	delay, drop := s.ruled(m, from, to)
	for machine := range machines {
		if s.now < s.cfg.HealAt {
			if s.rng.IntN(100) < s.cfg.LossPercent || s.cut(machineID(from, fromMachine), machineID(to, machine)) {
				continue
			}
		}
		if drop {
			continue
		}
		copies := 1
		if s.now < s.cfg.HealAt && s.rng.IntN(100) < s.cfg.DupPercent {
			copies = 2
		}
		for range copies {
			s.seq++
			heap.Push(&s.q, &event{at: s.now + s.latency() + delay, seq: s.seq, to: to, machine: machine, msg: m})
		}
	}
}

// ruled applies the rules to a message: the delay it gets, or a drop.
func (s *simulation) ruled(m *consensus.Message, from, to int) (delay uint64, drop bool) {
	for i := range s.cfg.Rules {
		r := &s.cfg.Rules[i]
		if s.now < r.From || (r.To != 0 && s.now >= r.To) || !r.matches(m, from, to) {
			continue
		}
		if r.Delay == 0 {
			return 0, true
		}
		delay += r.Delay
	}
	return delay, false
}

func (r *Rule) matches(m *consensus.Message, from, to int) bool {
	kind, height, round, typ := KindBlock, uint64(0), uint64(0), consensus.VoteType(0)
	if m != nil {
		kind, height = m.Kind, m.Height()
		round, typ = messageRound(m)
	}
	if len(r.Kinds) > 0 && !contains(r.Kinds, kind) {
		return false
	}
	if r.Type != 0 && typ != r.Type {
		return false
	}
	if len(r.Senders) > 0 && !contains(r.Senders, from) {
		return false
	}
	if len(r.Receivers) > 0 && !contains(r.Receivers, to) {
		return false
	}
	return r.Height.has(height) && (m == nil || r.Round.has(round))
}

func contains[T comparable](s []T, x T) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// messageRound returns the round a message is about, and its vote type.
func messageRound(m *consensus.Message) (uint64, consensus.VoteType) {
	switch {
	case m.Proposal != nil:
		return m.Proposal.Round, 0
	case m.Vote != nil:
		return m.Vote.Round, m.Vote.Type
	case m.QC != nil:
		return m.QC.Round, m.QC.Type
	case m.Timeout != nil:
		return m.Timeout.Round, 0
	case m.TC != nil:
		return m.TC.Round, 0
	}
	return 0, 0
}

func describeMessage(m *consensus.Message) string {
	switch {
	case m.Proposal != nil:
		p := m.Proposal
		vr := "-"
		if p.ValidRound != consensus.NoRound {
			vr = fmt.Sprint(p.ValidRound)
		}
		return fmt.Sprintf("proposal %d/%d %x pol %s", p.Height, p.Round, p.BlockID[:4], vr)
	case m.Vote != nil:
		return fmt.Sprintf("%v %d/%d %x", m.Vote.Type, m.Vote.Height, m.Vote.Round, m.Vote.BlockID[:4])
	case m.QC != nil:
		what := "certificate"
		if m.Kind == consensus.KindAggregate {
			what = "aggregate"
		}
		return fmt.Sprintf("%v %s %d/%d %x signers %d", m.QC.Type, what, m.QC.Height, m.QC.Round, m.QC.BlockID[:4], m.QC.Signers.Count())
	case m.Timeout != nil:
		return fmt.Sprintf("timeout %d/%d", m.Timeout.Height, m.Timeout.Round)
	case m.TC != nil:
		return fmt.Sprintf("timeout certificate %d/%d", m.TC.Height, m.TC.Round)
	}
	return "?"
}

func (s *simulation) latency() uint64 {
	return s.cfg.MinLatency + s.rng.Uint64N(s.cfg.MaxLatency-s.cfg.MinLatency+1)
}

// cut reports whether a partition separates two machines now.
func (s *simulation) cut(a, b int) bool {
	for _, p := range s.cfg.Partitions {
		if s.now < p.From || s.now >= p.To {
			continue
		}
		return group(p, a) != group(p, b)
	}
	return false
}

func group(p Partition, machine int) int {
	for i, g := range p.Groups {
		if contains(g, machine) {
			return i
		}
	}
	if machine < 0 { // a second copy not listed apart goes with its validator
		return group(p, -1-machine)
	}
	return len(p.Groups)
}

// fetch answers a fetch with the block From committed at the height, sent
// over the network.
func (s *simulation) fetch(n *node, machine int, f consensus.Fetch) {
	src := s.nodes[f.From]
	if src.crashed || f.Height >= src.height() {
		return
	}
	r := src.log[f.Height]
	if s.now < s.cfg.HealAt && (s.rng.IntN(100) < s.cfg.LossPercent || s.cut(src.idx, machineID(n.idx, machine))) {
		return
	}
	delay, drop := s.ruled(nil, src.idx, n.idx)
	if drop {
		return
	}
	s.seq++
	heap.Push(&s.q, &event{at: s.now + s.latency() + delay, seq: s.seq, to: n.idx, machine: machine, commit: &r})
}

func (s *simulation) deliver(e *event) {
	n := s.nodes[e.to]
	if n.crashed || e.machine >= len(n.cores) {
		return
	}
	s.res.Delivered++
	if e.commit != nil {
		c := n.cores[e.machine]
		if e.commit.height == c.Height() && chain.Keccak256(e.commit.payload) == e.commit.block {
			_ = c.StepCommitted(e.commit.payload, e.commit.qc)
			s.drain(n, e.machine)
		}
		return
	}
	if n.attack != nil {
		s.attackOn(n, e.msg)
	}
	s.stepInto(n, e.machine, e.msg)
}

// stepInto is the driver's receive path: check a proposal's block, hold
// proposals for later heights, step the rest.
func (s *simulation) stepInto(n *node, machine int, m *consensus.Message) {
	if n.crashed || machine >= len(n.cores) {
		return
	}
	if m.Kind == consensus.KindProposal {
		if !validPayload(m.Proposal) {
			return
		}
		if m.Proposal.Height > n.height() && machine == 0 {
			if m.Proposal.Height <= n.height()+2 && len(n.held[m.Proposal.Height]) < 64 {
				n.held[m.Proposal.Height] = append(n.held[m.Proposal.Height], m)
			}
			// The proposer has committed this validator's height: fetch
			// the block, as a node's block sync does, at most once per
			// round timeout.
			if last, ok := n.fetchedAt[n.height()]; !ok || s.now >= last+s.cfg.TimeoutTicks {
				n.fetchedAt[n.height()] = s.now
				s.fetch(n, machine, consensus.Fetch{Height: n.height(), From: m.Proposal.Proposer})
			}
			return
		}
	}
	_ = n.cores[machine].Step(m)
	s.drain(n, machine)
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

// View is what probes see of a running simulation.
type View struct{ s *simulation }

// Now returns the current tick.
func (v *View) Now() uint64 { return v.s.now }

// Height returns the number of blocks validator i has committed.
func (v *View) Height(i int) uint64 { return v.s.nodes[i].height() }

// Crashed reports whether validator i is down.
func (v *View) Crashed(i int) bool { return v.s.nodes[i].crashed }

// Round returns the round validator i's (first) core is in.
func (v *View) Round(i int) (uint64, bool) {
	n := v.s.nodes[i]
	if len(n.cores) == 0 {
		return 0, false
	}
	return n.cores[0].Round(), true
}

// Locked returns the round and block validator i is locked on at its
// current height, by its last persisted State; round is NoRound when it
// is not locked.
func (v *View) Locked(i int) (round uint64, block consensus.Hash) {
	n := v.s.nodes[i]
	if st := n.persisted; st != nil && st.Height == n.height() {
		return st.LockedRound, st.LockedBlock
	}
	return consensus.NoRound, consensus.Hash{}
}

// Block returns the block validator i committed at height h.
func (v *View) Block(i int, h uint64) (consensus.Hash, bool) {
	n := v.s.nodes[i]
	if h >= n.height() {
		return consensus.Hash{}, false
	}
	return n.log[h].block, true
}
