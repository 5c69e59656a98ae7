package sim

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("sim.seeds", 500, "random seeds for TestRandomSeeds")
	flagSeed  = flag.Uint64("sim.seed", 0, "run TestRandomSeeds with this one seed, with a trace")
	flagSoak  = flag.Duration("sim.soak", 0, "run random seeds for this long (a soak) instead of -sim.seeds")
	flagFirst = flag.Uint64("sim.first", 0, "first seed of TestRandomSeeds (default: from the clock)")
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
	faults := []Fault{Equivocate, DoubleVote, BadSignatures, Withhold, BadAggregator, Twin}
	perm := rng.Perm(n)
	bad := rng.IntN(f + 1)
	for i := range bad {
		cfg.Faults[perm[i]] = faults[rng.IntN(len(faults))]
	}
	// Honest validators that crash, within what is left of the budget;
	// they restart before the heal or just after it.
	for i := bad; i < f && rng.IntN(2) == 0; i++ {
		at := uint64(100 + rng.IntN(1500))
		cfg.Crashes = append(cfg.Crashes, Crash{Node: perm[i], At: at, RestartAt: at + uint64(50+rng.IntN(900))})
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
	return fmt.Sprintf("n=%d committees=%d loss=%d%% dup=%d%% latency=%d..%d faults=[%s] crashes=%d partitions=%d",
		cfg.Validators, cfg.Committees, cfg.LossPercent, cfg.DupPercent, cfg.MinLatency, cfg.MaxLatency,
		strings.Join(faults, " "), len(cfg.Crashes), len(cfg.Partitions))
}

// TestRandomSeeds runs many random scenarios and checks safety after every
// step and liveness after the heal. A failure prints the seed and the
// command that replays it with a trace.
func TestRandomSeeds(t *testing.T) {
	if *flagSeed != 0 {
		cfg := randomConfig(*flagSeed)
		cfg.Trace = os.Stdout
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
	first := *flagFirst
	if first == 0 {
		first = uint64(time.Now().UnixNano())
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
