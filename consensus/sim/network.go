package sim

import (
	"container/heap"
	"fmt"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
)

type event struct {
	at, seq uint64
	to      int
	machine int // which of the validator's machines
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
	r := src.log()[f.Height]
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
	d := n.driver(e.machine)
	if d == nil {
		return
	}
	s.res.Delivered++
	if e.commit != nil {
		if b, err := decodeBlock(e.commit.payload); err == nil {
			s.settle(n, d.StepBlock(b, e.commit.qc))
		}
		return
	}
	if n.attack != nil {
		s.attackOn(n, e.msg)
	}
	s.stepInto(n, e.machine, e.msg)
}

// stepInto hands a message to a machine's driver, which checks a
// proposal's block, holds proposals for the next height and steps the
// rest into its core.
func (s *simulation) stepInto(n *node, machine int, m *consensus.Message) {
	d := n.driver(machine)
	if d == nil || s.err != nil {
		return
	}
	c := n.machines[machine].chain
	before, height := c.proposalsExecuted, d.Height()
	err := d.Step(m)
	if p := m.Proposal; p != nil && machine == 0 && n.fault == Honest && p.Height == height && d.Height() == height {
		s.countExecutions(n, p.Height, p.Round, c.proposalsExecuted-before)
	}
	s.settle(n, err)
}

// countExecutions charges the proposed blocks a validator's driver
// executed while it checked a proposal to the proposal's round, and fails
// the run when a round made it execute more than the driver's bound.
func (s *simulation) countExecutions(n *node, h, r uint64, k int) {
	if k == 0 {
		return
	}
	if n.executions == nil {
		n.executions = map[[2]uint64]int{}
	}
	key := [2]uint64{h, r}
	n.executions[key] += k
	if got := n.executions[key]; got > driver.DefaultMaxProposalsPerRound {
		s.fail("flooded", n.idx, h, fmt.Sprintf("v%d executed %d proposed blocks for round %d", n.idx, got, r))
	}
}
