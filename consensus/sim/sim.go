package sim

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
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
	// Flood, as leader, sends every validator floodProposals more signed
	// blocks beside its proposal in each round: a leader trying to make
	// the others spend their time executing blocks.
	Flood
)

// floodProposals is how many extra blocks a Flood leader sends a round.
const floodProposals = 4

var faultNames = map[Fault]string{
	Honest: "honest", Equivocate: "equivocate", DoubleVote: "double-vote", BadSignatures: "bad-signatures",
	Withhold: "withhold", BadAggregator: "bad-aggregator", Twin: "twin", LockAttack: "lock-attack",
	Forge: "forge", Usurp: "usurp", Mute: "mute", Flood: "flood",
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
	// BlockTicks is the driver's block interval: a leader proposes in a
	// height's first round this many ticks after its parent block (0: at
	// once).
	BlockTicks uint64
	Probes     []Probe
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
// ("unjustified"), persisting a State that goes back ("regressed"),
// skipping or repeating a height ("log"), or executing more proposed
// blocks for one round than its driver's bound ("flooded": not safety
// but the bound that keeps a leader from spending the validator's time).
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

// DriverError is an honest validator's driver failing: a certified block
// that does not apply to its chain, or a store that refused a write.
type DriverError struct {
	Seed      uint64
	Tick      uint64
	Validator int
	Err       error
}

func (e *DriverError) Error() string {
	return fmt.Sprintf("sim seed %d: v%d's driver failed at tick %d: %v", e.Seed, e.Validator, e.Tick, e.Err)
}

func (e *DriverError) Unwrap() error { return e.Err }

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

// tick is a simulated tick in the drivers' time: the node's own tick, so
// that block intervals and clock drift mean what they mean in a node.
const tick = driver.DefaultTick

// genesisMs is the simulated genesis time, unix ms; tick t is tick×t later.
const genesisMs = 1_700_000_000_000

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
// breaks, a *DriverError when an honest validator's driver fails, a
// *ProbeError when a probe fails, a *LivenessError if the chain did not
// grow after the heal, or another error for a broken setup.
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
		n := newNode(s, i, cfg.Faults[i])
		n.crypto = &fastCrypto{self: uint32(i), secrets: s.keys, aggs: aggs, onSign: func(msg []byte) { s.check.signed(n, msg) }}
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		if err := s.boot(n); err != nil {
			return nil, err
		}
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
			for _, m := range n.machines {
				if s.err == nil && m.drv != nil {
					s.settle(n, m.drv.Tick())
				}
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
			for _, m := range n.machines {
				if m.drv != nil {
					s.res.Rounds += m.drv.Stats().Rounds
				}
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

// driverConfig is what every simulated validator's driver runs with: the
// node's driver settings, the simulation's core timings.
func (s *simulation) driverConfig(n *node) driver.Config {
	recipients := make([]chain.Address, s.vals.Len())
	for i := range recipients {
		recipients[i] = simAddress(uint32(i))
	}
	cfg := driver.Config{
		Core: consensus.Config{
			ChainTag: chainTag, Validators: s.vals, Self: uint32(n.idx), Crypto: n.crypto,
			Committees: s.cfg.Committees, EpochLength: s.cfg.EpochLength,
			Logger: s.cfg.Logger,
		},
		Recipients:    recipients,
		Tick:          tick,
		BlockInterval: time.Duration(s.cfg.BlockTicks) * tick,
		Logger:        s.cfg.Logger,
	}
	cfg.SetDefaults()
	// The simulation's timings, in ticks, instead of the node's.
	cfg.Core.TimeoutTicks, cfg.Core.TimeoutGrowthPercent, cfg.Core.MaxTimeoutTicks = s.cfg.TimeoutTicks, 50, 20*s.cfg.TimeoutTicks
	cfg.Core.AggregateTicks, cfg.Core.FallbackTicks = s.cfg.AggregateTicks, s.cfg.FallbackTicks
	return cfg
}

// boot starts a validator's drivers (two for a twin) from their chains and
// persisted state, and carries out what their cores ask first.
func (s *simulation) boot(n *node) error {
	for _, m := range n.machines {
		d, err := driver.New(s.driverConfig(n), m.chain, m.store, m.transport, simClock{s})
		if err != nil {
			return err
		}
		m.drv = d
	}
	for _, m := range n.machines {
		if s.err == nil && m.drv != nil {
			s.settle(n, m.drv.Start())
		}
	}
	return nil
}

// settle looks at what a driver call left behind: a torn crash that struck
// during it, or a failed driver.
func (s *simulation) settle(n *node, err error) {
	switch {
	case n.dying:
		s.trace("tick %d: v%d crashes after applying height %d, before persisting its state", s.now, n.idx, n.height()-1)
		s.crash(n)
	case err != nil && n.fault == Honest && s.err == nil:
		s.err = &DriverError{Seed: s.cfg.Seed, Tick: s.now, Validator: n.idx, Err: err}
	case err != nil:
		s.trace("tick %d: v%d's driver failed: %v", s.now, n.idx, err)
		s.crash(n)
	}
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
			how := "from its persisted state"
			if c.Amnesia {
				n.forget()
			}
			if c.Amnesia || n.persisted == nil {
				how = "with no persisted state"
			}
			s.trace("tick %d: v%d restarts at height %d %s", s.now, c.Node, n.height(), how)
			if err := s.boot(n); err != nil {
				s.err = err
				return
			}
		}
	}
}

// crash stops a validator: its drivers and everything they held in memory
// are gone; its chains and stores stay.
func (s *simulation) crash(n *node) {
	n.crashed = true
	n.dying = false
	n.tornAt = 0
	for _, m := range n.machines {
		if m.drv != nil {
			n.rounds += m.drv.Stats().Rounds
			m.drv = nil
		}
	}
	n.pending = nil
	n.executions = nil // a new driver starts its bounds afresh
	s.trace("tick %d: v%d crashes at height %d", s.now, n.idx, n.height())
}

func (s *simulation) trace(format string, args ...any) {
	if s.cfg.Trace != nil {
		fmt.Fprintf(s.cfg.Trace, format+"\n", args...)
	}
}

func (s *simulation) fail(kind string, v int, h uint64, detail string) {
	if s.err == nil {
		s.err = &SafetyError{Seed: s.cfg.Seed, Tick: s.now, Height: h, Kind: kind, Validator: v, Detail: detail}
	}
}

// errCrashed is what a dying validator's store answers: the torn crash
// strikes before anything more is persisted.
var errCrashed = errors.New("sim: the validator crashed")

// sortedInts returns the keys of a fault map in order, for reports.
func sortedInts(m map[int]Fault) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
