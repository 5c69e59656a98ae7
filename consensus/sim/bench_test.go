package sim

import (
	"fmt"
	"testing"
	"time"
)

// scaleConfig is a network of n validators in committees of ten or more,
// latencies of 1 to 4 ticks and loss for the whole run.
func scaleConfig(seed uint64, n int, loss int, ticks uint64) Config {
	return Config{
		Seed: seed, Validators: n, Committees: max(1, n/10),
		MinLatency: 1, MaxLatency: 4, LossPercent: loss,
		Ticks: ticks, HealAt: ticks + 1,
	}
}

// BenchmarkSim measures the simulator: simulated rounds (of the honest
// validators, averaged over them) per second of wall time, with 4, 31 and
// 100 validators at 5% loss, and the 100-validator, 10-committee, 20%-loss
// network of TestLossyHundred at full length.
func BenchmarkSim(b *testing.B) {
	cases := []struct {
		name  string
		n     int
		loss  int
		ticks uint64
	}{
		{"validators=4", 4, 5, 4000},
		{"validators=31", 31, 5, 2000},
		{"validators=100", 100, 5, 1000},
		{"validators=100/loss=20", 100, 20, lossyHundredTicks},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var rounds, heights, msgs uint64
			start := time.Now()
			for i := 0; i < b.N; i++ {
				res, err := Run(scaleConfig(uint64(i+1), c.n, c.loss, c.ticks))
				if err != nil {
					b.Fatal(err)
				}
				rounds += res.Rounds
				heights += minHeight(res.Heights)
				msgs += uint64(res.Messages)
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(rounds)/secs, "rounds/s")
			b.ReportMetric(float64(heights)/secs, "heights/s")
			b.ReportMetric(float64(msgs)/secs, "msgs/s")
		})
	}
}

func minHeight(hs []uint64) uint64 {
	m := hs[0]
	for _, h := range hs {
		m = min(m, h)
	}
	return m
}

// lossyHundredTicks is the length of the full 100-validator run.
const lossyHundredTicks = 3000

// TestLossyHundred runs 100 validators in 10 committees with 20% of all
// messages lost, for the whole run: every validator must keep committing.
// The short version runs a third of the full length (BenchmarkSim runs the
// full one).
func TestLossyHundred(t *testing.T) {
	ticks := uint64(lossyHundredTicks)
	if testing.Short() || raceEnabled {
		ticks /= 3
	}
	start := time.Now()
	res, err := Run(scaleConfig(42, 100, 20, ticks))
	if err != nil {
		t.Fatal(err)
	}
	low := minHeight(res.Heights)
	t.Logf("%d ticks in %v: heights %d..%d, %d rounds per validator, %d messages", ticks, time.Since(start).Round(time.Millisecond), low, res.Heights[0], res.Rounds, res.Messages)
	if want := ticks / 100; low < want {
		t.Fatalf("the slowest validator committed %d heights in %d ticks, want at least %d: %v", low, ticks, want, fmt.Sprint(res.Heights))
	}
}
