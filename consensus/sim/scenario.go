package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bizra/node0/consensus"
)

// A scenario is a simulation written down as text, one directive a line,
// for attacks that a random seed would find only by luck: who is
// byzantine and how, what the network does when, and what must (or must
// not) happen. '#' starts a comment; a scenario file opens with comments
// that tell the attack. Ticks are the simulator's virtual time.
//
// Settings (defaults as Config's):
//
//	validators N            N validators of stake 100
//	stakes S0 S1 …          their stakes instead
//	committees K            committees of the vote aggregation
//	epoch E                 heights per epoch
//	latency MIN MAX         message latency in ticks, uniform
//	loss P / dup P          percent of messages lost / duplicated before the heal
//	timeouts T A F          round timeout, aggregation delay, fallback, in ticks
//	block-ticks N           the drivers' block interval: a leader proposes a
//	                        height's first round N ticks after its parent (0: at once)
//	ticks N                 length of the run
//	heal T                  loss and partitions end at tick T
//	seed S                  seed of latencies, losses and payloads
//	fault V NAME            validator V is byzantine: equivocate, double-vote,
//	                        bad-signatures, withhold, bad-aggregator, twin,
//	                        lock-attack, forge, usurp, mute, flood (see Fault)
//
// Events:
//
//	at T partition G | G …  cut the network into groups of machines (V: all of
//	                        validator V's machines, Va / Vb: a twin's first /
//	                        second one) until the next partition, join or heal
//	at T join               end the partition
//	at T crash V [torn]     crash V (torn: at its next commit, after applying
//	                        the block and before persisting its state)
//	at T restart V [amnesia]  restart V from its chain and persisted state (amnesia:
//	                        from its chain only)
//
// Network rules, in force between ticks A and B (inclusive of A, exclusive
// of B; all ticks if omitted), for the messages matching every filter given:
//
//	drop [ticks=A..B] [kind=K,…] [type=prevote|precommit] [from=V,…] [to=V,…] [height=A..B] [round=A..B]
//	delay D [filters as drop]
//
// where a kind is proposal, vote, aggregate, qc, timeout, tc or block (a
// fetched block), and A..B may be a single number.
//
// Expectations:
//
//	expect leader H R V     validator V leads round R of height H (the
//	                        scenario's choreography assumes it)
//	expect heights N        every running honest validator commits N heights after the heal
//	expect violation KIND [V]  the run must break safety this way (fork,
//	                        double-sign, unpersisted, unjustified, regressed,
//	                        log, flooded), by V
//	expect no-fork          (always checked; for the reader)
//	at T expect height V OP N    V's committed heights compare (= >= <=) with N
//	at T expect round V OP N     V's round compares with N
//	at T expect locked V R|none  V is locked in round R, or not locked
//	at T expect same-block H V V…  these validators committed one block at height H
type Scenario struct {
	Name   string
	Config Config
	// Violation is the kind of safety violation the scenario must cause,
	// by Violator if it is not negative; empty when it must cause none.
	Violation string
	Violator  int
	leaders   []leaderAt
}

type leaderAt struct {
	line          int
	height, round uint64
	v             int
}

// ParseScenario reads a scenario.
func ParseScenario(name string, r io.Reader) (*Scenario, error) {
	sc := &Scenario{Name: name, Violator: -1}
	cfg := &sc.Config
	cfg.Faults = map[int]Fault{}
	type cut struct {
		line int
		at   uint64
		join bool
		g    [][]int
	}
	var cuts []cut
	crashAt := map[int]int{} // validator → index in Crashes of its open crash
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	sc2 := bufio.NewScanner(r)
	line := 0
	var restarts []struct {
		line, v int
		at      uint64
		amnesia bool
	}
	for sc2.Scan() {
		line++
		text := sc2.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		p := &args{f: f, line: line, bad: bad}
		at, timed := uint64(0), false
		if f[0] == "at" {
			at, timed = p.uint(1), true
			p.f = f[2:]
			if len(p.f) == 0 {
				bad(line, "at %d: what?", at)
				continue
			}
		}
		switch p.f[0] {
		case "validators":
			cfg.Validators = int(p.uint(1))
		case "stakes":
			for i := 1; i < len(p.f); i++ {
				cfg.Stakes = append(cfg.Stakes, p.uint(i))
			}
		case "committees":
			cfg.Committees = int(p.uint(1))
		case "epoch":
			cfg.EpochLength = p.uint(1)
		case "latency":
			cfg.MinLatency, cfg.MaxLatency = p.uint(1), p.uint(2)
		case "loss":
			cfg.LossPercent = int(p.uint(1))
		case "dup":
			cfg.DupPercent = int(p.uint(1))
		case "timeouts":
			cfg.TimeoutTicks, cfg.AggregateTicks, cfg.FallbackTicks = p.uint(1), p.uint(2), p.uint(3)
		case "ticks":
			cfg.Ticks = p.uint(1)
		case "block-ticks":
			cfg.BlockTicks = p.uint(1)
		case "heal":
			cfg.HealAt = p.uint(1)
		case "seed":
			cfg.Seed = p.uint(1)
		case "fault":
			v := int(p.uint(1))
			fault, ok := ParseFault(p.str(2))
			if !ok || fault == Honest {
				bad(line, "unknown fault %q", p.str(2))
			}
			cfg.Faults[v] = fault
		case "partition", "join":
			if !timed {
				bad(line, "%s needs a tick: at T %s", p.f[0], p.f[0])
			}
			c := cut{line: line, at: at, join: p.f[0] == "join"}
			if !c.join {
				c.g = [][]int{nil}
				for _, tok := range p.f[1:] {
					if tok == "|" {
						c.g = append(c.g, nil)
						continue
					}
					c.g[len(c.g)-1] = append(c.g[len(c.g)-1], p.machine(tok))
				}
			}
			cuts = append(cuts, c)
		case "crash":
			if !timed {
				bad(line, "crash needs a tick")
			}
			v := int(p.uint(1))
			crashAt[v] = len(cfg.Crashes)
			cfg.Crashes = append(cfg.Crashes, Crash{Node: v, At: at, Torn: p.flag(2, "torn")})
		case "restart":
			if !timed {
				bad(line, "restart needs a tick")
			}
			restarts = append(restarts, struct {
				line, v int
				at      uint64
				amnesia bool
			}{line, int(p.uint(1)), at, p.flag(2, "amnesia")})
		case "drop", "delay":
			rule := Rule{}
			first := 1
			if p.f[0] == "delay" {
				rule.Delay, first = p.uint(1), 2
				if rule.Delay == 0 {
					bad(line, "a delay of 0 ticks")
				}
			}
			for _, tok := range p.f[first:] {
				p.filter(&rule, tok)
			}
			cfg.Rules = append(cfg.Rules, rule)
		case "expect":
			p.f = p.f[1:]
			if len(p.f) == 0 {
				bad(line, "expect what?")
				continue
			}
			if timed {
				if probe, ok := p.probe(at); ok {
					cfg.Probes = append(cfg.Probes, probe)
				}
				continue
			}
			switch p.f[0] {
			case "leader":
				sc.leaders = append(sc.leaders, leaderAt{line, p.uint(1), p.uint(2), int(p.uint(3))})
			case "heights":
				cfg.WantHeights = p.uint(1)
			case "violation":
				sc.Violation = p.str(1)
				if len(p.f) > 2 {
					sc.Violator = int(p.uint(2))
				}
			case "no-fork":
			default:
				bad(line, "unknown expectation %q", p.f[0])
			}
		default:
			bad(line, "unknown directive %q", p.f[0])
		}
	}
	if err := sc2.Err(); err != nil {
		return nil, err
	}
	for _, r := range restarts {
		i, ok := crashAt[r.v]
		if !ok || cfg.Crashes[i].RestartAt != 0 {
			bad(r.line, "restart of v%d without a crash before it", r.v)
			continue
		}
		if r.at <= cfg.Crashes[i].At {
			bad(r.line, "v%d restarts at %d, not after its crash at %d", r.v, r.at, cfg.Crashes[i].At)
		}
		cfg.Crashes[i].RestartAt, cfg.Crashes[i].Amnesia = r.at, r.amnesia
	}
	for i, c := range cuts {
		if c.join {
			continue
		}
		end := cfg.HealAt
		if i+1 < len(cuts) {
			end = cuts[i+1].at
		}
		if end == 0 {
			end = cfg.Ticks
		}
		if end <= c.at {
			bad(c.line, "partition from %d ends at %d", c.at, end)
		}
		cfg.Partitions = append(cfg.Partitions, Partition{From: c.at, To: end, Groups: c.g})
	}
	if cfg.Validators < 1 {
		bad(line, "no validators")
	}
	if cfg.Stakes != nil && len(cfg.Stakes) != cfg.Validators {
		bad(line, "%d stakes for %d validators", len(cfg.Stakes), cfg.Validators)
	}
	for _, v := range sortedInts(cfg.Faults) {
		if v >= cfg.Validators {
			bad(line, "fault of v%d, outside %d validators", v, cfg.Validators)
		}
	}
	for _, c := range cfg.Crashes {
		if c.Node >= cfg.Validators {
			bad(line, "crash of v%d, outside %d validators", c.Node, cfg.Validators)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sc, nil
}

// Run runs the scenario and checks its expectations.
func (sc *Scenario) Run() (*Result, error) {
	if err := sc.checkLeaders(); err != nil {
		return nil, err
	}
	res, err := Run(sc.Config)
	if sc.Violation == "" {
		return res, err
	}
	var se *SafetyError
	if !errors.As(err, &se) {
		return res, fmt.Errorf("%s: expected a %s violation, got %v", sc.Name, sc.Violation, err)
	}
	if se.Kind != sc.Violation || (sc.Violator >= 0 && se.Validator != sc.Violator) {
		return res, fmt.Errorf("%s: expected a %s violation by v%d, got: %w", sc.Name, sc.Violation, sc.Violator, err)
	}
	return res, nil
}

func (sc *Scenario) checkLeaders() error {
	if len(sc.leaders) == 0 {
		return nil
	}
	vals := make([]consensus.Validator, sc.Config.Validators)
	for i := range vals {
		vals[i] = consensus.Validator{Name: fmt.Sprint("v", i), Stake: 100}
		if sc.Config.Stakes != nil {
			vals[i].Stake = sc.Config.Stakes[i]
		}
	}
	set, err := consensus.NewValidatorSet(vals)
	if err != nil {
		return err
	}
	for _, l := range sc.leaders {
		if got := set.Proposer(l.height, l.round); int(got) != l.v {
			return fmt.Errorf("%s:%d: v%d leads round %d of height %d, not v%d: the scenario's choreography no longer fits the leader schedule", sc.Name, l.line, got, l.round, l.height, l.v)
		}
	}
	return nil
}

// args reads the fields of one line.
type args struct {
	f    []string
	line int
	bad  func(line int, format string, args ...any)
}

func (p *args) str(i int) string {
	if i >= len(p.f) {
		p.bad(p.line, "%s: missing argument %d", p.f[0], i)
		return ""
	}
	return p.f[i]
}

func (p *args) uint(i int) uint64 {
	s := p.str(i)
	if s == "" {
		return 0
	}
	return p.number(s)
}

func (p *args) number(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.bad(p.line, "%q is not a number", s)
	}
	return n
}

func (p *args) flag(i int, name string) bool {
	if i >= len(p.f) {
		return false
	}
	if p.f[i] != name || len(p.f) > i+1 {
		p.bad(p.line, "unexpected %q", strings.Join(p.f[i:], " "))
	}
	return true
}

// machine reads V, Va or Vb.
func (p *args) machine(tok string) int {
	switch {
	case strings.HasSuffix(tok, "a"):
		return int(p.number(strings.TrimSuffix(tok, "a")))
	case strings.HasSuffix(tok, "b"):
		return SecondCopy(int(p.number(strings.TrimSuffix(tok, "b"))))
	}
	return int(p.number(tok))
}

func (p *args) span(s string) *Span {
	lo, hi, ok := strings.Cut(s, "..")
	if !ok {
		hi = lo
	}
	sp := &Span{Lo: p.number(lo), Hi: p.number(hi)}
	if sp.Hi < sp.Lo {
		p.bad(p.line, "empty range %s", s)
	}
	return sp
}

func (p *args) ints(s string) []int {
	var out []int
	for _, x := range strings.Split(s, ",") {
		out = append(out, int(p.number(x)))
	}
	return out
}

var kindNames = map[string]consensus.Kind{
	"proposal": consensus.KindProposal, "vote": consensus.KindVote, "aggregate": consensus.KindAggregate,
	"qc": consensus.KindQC, "timeout": consensus.KindTimeout, "tc": consensus.KindTC, "block": KindBlock,
}

func (p *args) filter(r *Rule, tok string) {
	key, val, ok := strings.Cut(tok, "=")
	if !ok {
		p.bad(p.line, "filter %q is not key=value", tok)
		return
	}
	switch key {
	case "ticks":
		sp := p.span(val)
		r.From, r.To = sp.Lo, sp.Hi
	case "kind":
		for _, k := range strings.Split(val, ",") {
			kind, ok := kindNames[k]
			if !ok {
				p.bad(p.line, "unknown kind %q", k)
			}
			r.Kinds = append(r.Kinds, kind)
		}
	case "type":
		switch val {
		case "prevote":
			r.Type = consensus.Prevote
		case "precommit":
			r.Type = consensus.Precommit
		default:
			p.bad(p.line, "unknown vote type %q", val)
		}
	case "from":
		r.Senders = p.ints(val)
	case "to":
		r.Receivers = p.ints(val)
	case "height":
		r.Height = p.span(val)
	case "round":
		r.Round = p.span(val)
	default:
		p.bad(p.line, "unknown filter %q", key)
	}
}

func compare(op string, a, b uint64) (bool, bool) {
	switch op {
	case "=":
		return a == b, true
	case ">=":
		return a >= b, true
	case "<=":
		return a <= b, true
	}
	return false, false
}

// probe reads a timed expectation.
func (p *args) probe(at uint64) (Probe, bool) {
	what := strings.Join(p.f, " ")
	switch p.f[0] {
	case "height", "round":
		v, op, want := int(p.uint(1)), p.str(2), p.uint(3)
		if _, ok := compare(op, 0, 0); !ok {
			p.bad(p.line, "unknown comparison %q", op)
			return Probe{}, false
		}
		isRound := p.f[0] == "round"
		return Probe{At: at, What: what, Check: func(view *View) error {
			got := view.Height(v)
			if isRound {
				r, ok := view.Round(v)
				if !ok {
					return fmt.Errorf("v%d is down", v)
				}
				got = r
			}
			if ok, _ := compare(op, got, want); !ok {
				return fmt.Errorf("v%d's %s is %d", v, p.f[0], got)
			}
			return nil
		}}, true
	case "locked":
		v := int(p.uint(1))
		want := consensus.NoRound
		if p.str(2) != "none" {
			want = p.uint(2)
		}
		return Probe{At: at, What: what, Check: func(view *View) error {
			if r, _ := view.Locked(v); r != want {
				if r == consensus.NoRound {
					return fmt.Errorf("v%d is not locked", v)
				}
				return fmt.Errorf("v%d is locked in round %d", v, r)
			}
			return nil
		}}, true
	case "same-block":
		h := p.uint(1)
		var vs []int
		for i := 2; i < len(p.f); i++ {
			vs = append(vs, int(p.uint(i)))
		}
		if len(vs) < 2 {
			p.bad(p.line, "same-block needs two validators")
		}
		return Probe{At: at, What: what, Check: func(view *View) error {
			first, ok := view.Block(vs[0], h)
			if !ok {
				return fmt.Errorf("v%d has not committed height %d", vs[0], h)
			}
			for _, v := range vs[1:] {
				if b, ok := view.Block(v, h); !ok || b != first {
					return fmt.Errorf("v%d has not committed v%d's block %x at height %d", v, vs[0], first[:4], h)
				}
			}
			return nil
		}}, true
	}
	p.bad(p.line, "unknown expectation %q", p.f[0])
	return Probe{}, false
}
