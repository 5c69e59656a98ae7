package sim

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("sim.seeds", 500, "random seeds for TestRandomSeeds")
	flagSeed  = flag.Uint64("sim.seed", 0, "run TestRandomSeeds with this one seed, with a trace")
	flagSoak  = flag.Duration("sim.soak", 0, "run random seeds for this long (a soak) instead of -sim.seeds")
	flagFirst = flag.Uint64("sim.first", 0, "first seed of TestRandomSeeds (default: 1, or the clock for a soak)")
	flagDebug = flag.Bool("sim.debug", false, "with -sim.seed, print the cores' debug logs")
)

// randomConfig derives a whole scenario from a seed: 4 to 31 validators,
// up to a third of them faulty in random ways (crashes included), a lossy,
// duplicating, reordering network, sometimes a partition, all healing
// halfway through.
func randomConfig(seed uint64) Config {
	rng := rand.New(rand.NewPCG(seed, 0xb12a))
	n := 4 + rng.IntN(28)
	f := (n - 1) / 3
	cfg := Config{
		Seed: seed, Validators: n, Faults: map[int]Fault{},
		MinLatency: 1, MaxLatency: uint64(1 + rng.IntN(8)),
		LossPercent: rng.IntN(21), DupPercent: rng.IntN(11),
		Ticks: 4000, HealAt: 2000, WantHeights: 3,
		EpochLength: uint64(5 + rng.IntN(40)),
	}
	if n >= 8 && rng.IntN(2) == 0 {
		cfg.Committees = 2 + rng.IntN(n/MinCommitteeSizeForTests())
	}
	faults := []Fault{Equivocate, DoubleVote, BadSignatures, Withhold, BadAggregator, Twin, LockAttack, Forge, Usurp, Mute}
	perm := rng.Perm(n)
	bad := rng.IntN(f + 1)
	for i := range bad {
		cfg.Faults[perm[i]] = faults[rng.IntN(len(faults))]
	}
	// Honest validators that crash, within what is left of the budget;
	// they restart before the heal or just after it.
	for i := bad; i < f && rng.IntN(2) == 0; i++ {
		at := uint64(100 + rng.IntN(1500))
		cfg.Crashes = append(cfg.Crashes, Crash{Node: perm[i], At: at, RestartAt: at + uint64(50+rng.IntN(900)), Torn: rng.IntN(3) == 0})
	}
	if rng.IntN(2) == 0 {
		split := 1 + rng.IntN(n-1)
		from := uint64(rng.IntN(1200))
		cfg.Partitions = []Partition{{From: from, To: from + uint64(100+rng.IntN(700)), Groups: [][]int{perm[:split]}}}
	}
	return cfg
}

// MinCommitteeSizeForTests mirrors consensus.MinCommitteeSize.
func MinCommitteeSizeForTests() int { return 4 }

func describe(cfg Config) string {
	var faults []string
	for _, i := range sortedInts(cfg.Faults) {
		faults = append(faults, fmt.Sprintf("v%d=%s", i, cfg.Faults[i]))
	}
	var crashes []string
	for _, c := range cfg.Crashes {
		how := ""
		if c.Torn {
			how = " torn"
		}
		crashes = append(crashes, fmt.Sprintf("v%d@%d..%d%s", c.Node, c.At, c.RestartAt, how))
	}
	return fmt.Sprintf("n=%d committees=%d loss=%d%% dup=%d%% latency=%d..%d faults=[%s] crashes=[%s] partitions=%d",
		cfg.Validators, cfg.Committees, cfg.LossPercent, cfg.DupPercent, cfg.MinLatency, cfg.MaxLatency,
		strings.Join(faults, " "), strings.Join(crashes, " "), len(cfg.Partitions))
}

// TestRandomSeeds runs many random scenarios and checks safety after every
// step and liveness after the heal. A failure prints the seed and the
// command that replays it with a trace.
func TestRandomSeeds(t *testing.T) {
	if *flagSeed != 0 {
		cfg := randomConfig(*flagSeed)
		cfg.Trace, cfg.TraceMessages = os.Stdout, *flagTrace
		if *flagDebug {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
		}
		res, err := Run(cfg)
		t.Logf("%s\n%+v", describe(cfg), res)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	// A plain test run covers a fixed range of seeds, so that CI is
	// reproducible; a soak, or -sim.first, explores new ones.
	first := *flagFirst
	if first == 0 {
		first = 1
		if *flagSoak > 0 {
			first = uint64(time.Now().UnixNano())
		}
	}
	seeds := *flagSeeds
	if raceEnabled && seeds > 40 {
		seeds = 40 // the race detector looks for data races, which seeds do not add
	}
	deadline := time.Now().Add(*flagSoak)
	runs, heights, msgs := 0, uint64(0), 0
	for i := uint64(0); ; i++ {
		if *flagSoak > 0 {
			if time.Now().After(deadline) {
				break
			}
		} else if int(i) >= seeds {
			break
		}
		seed := first + i
		cfg := randomConfig(seed)
		res, err := Run(cfg)
		runs++
		if err != nil {
			var se *SafetyError
			kind := "liveness"
			if errors.As(err, &se) {
				kind = "SAFETY"
			}
			t.Fatalf("%s failure: %v\nscenario: %s\nreplay: go test ./consensus/sim -run TestRandomSeeds -sim.seed=%d -v", kind, err, describe(cfg), seed)
		}
		for _, h := range res.Heights {
			heights += h
		}
		msgs += res.Messages
	}
	t.Logf("%d seeds from %d passed: %d heights committed in all, %d messages", runs, first, heights, msgs)
}

// TestRandomSeedsInSlots runs random scenarios with a block interval:
// leaders wait for their block's slot, as in a node, instead of proposing
// at once, and blocks take their slot's time.
func TestRandomSeedsInSlots(t *testing.T) {
	seeds := uint64(100)
	if raceEnabled {
		seeds = 10
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		cfg := randomConfig(seed)
		cfg.BlockTicks = 1 + seed%10
		if _, err := Run(cfg); err != nil {
			t.Fatalf("%v\nscenario: %s, block-ticks %d", err, describe(cfg), cfg.BlockTicks)
		}
	}
}

// TestRegressionSeeds replays every seed in testdata/regression-seeds.txt.
func TestRegressionSeeds(t *testing.T) {
	raw, err := os.ReadFile("testdata/regression-seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(raw), "\n") {
		line, comment, _ := strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		seed, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			t.Fatalf("regression-seeds.txt:%d: %v", i+1, err)
		}
		n++
		cfg := randomConfig(seed)
		if _, err := Run(cfg); err != nil {
			t.Errorf("regression seed %d (%s): %v\nscenario: %s\nreplay: go test ./consensus/sim -run TestRandomSeeds -sim.seed=%d -v", seed, strings.TrimSpace(comment), err, describe(cfg), seed)
		}
	}
	if n == 0 {
		t.Fatal("no regression seeds")
	}
}

// TestDeterminism runs seeds and a scenario twice and compares their
// traces, every message included: the simulator must replay a seed
// exactly.
func TestDeterminism(t *testing.T) {
	run := func(cfg Config) (string, *Result) {
		var b strings.Builder
		cfg.Trace, cfg.TraceMessages = &b, true
		res, _ := Run(cfg)
		return b.String(), res
	}
	cfgs := []Config{randomConfig(7), randomConfig(8), randomConfig(9)}
	raw, err := os.ReadFile("testdata/scenarios/lock-attack.txt")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario("lock-attack", strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	cfgs = append(cfgs, sc.Config)
	for _, cfg := range cfgs {
		a, ra := run(cfg)
		b, rb := run(cfg)
		if a != b || fmt.Sprint(*ra) != fmt.Sprint(*rb) {
			t.Fatalf("seed %d ran differently twice (%d and %d bytes of trace)", cfg.Seed, len(a), len(b))
		}
		if ra.Signatures == 0 {
			t.Fatalf("seed %d: the checker saw no signature", cfg.Seed)
		}
	}
}
