package sim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var flagTrace = flag.Bool("sim.trace", false, "print the trace of scenarios, every message included")

// TestScenarios runs every scenario in testdata/scenarios. Each opens with
// a comment that tells its attack; replay one with its trace with
// go test ./consensus/sim -run 'TestScenarios/NAME' -v -sim.trace.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(raw), "#") {
				t.Fatalf("%s does not open with a comment telling its attack", file)
			}
			sc, err := ParseScenario(file, strings.NewReader(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if *flagTrace {
				sc.Config.Trace, sc.Config.TraceMessages = testWriter{t}, true
			}
			res, err := sc.Run()
			if err != nil {
				t.Fatalf("%v\nreplay with its trace: go test ./consensus/sim -run 'TestScenarios/%s$' -v -sim.trace", err, name)
			}
			t.Logf("heights %v, %d rounds per honest validator, %d messages", res.Heights, res.Rounds, res.Messages)
		})
	}
}

// testWriter sends a trace to the test log, a line at a time.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestParseScenario checks that the parser reads what the format says and
// reports mistakes with their line.
func TestParseScenario(t *testing.T) {
	sc, err := ParseScenario("ok", strings.NewReader(`# a comment
validators 7
stakes 1 1 1 1 1 1 2   # trailing comment
fault 6 twin
latency 2 3
at 10 partition 0 1 6a | 2 3 6b
at 50 join
at 60 partition 0 | 1
heal 100
at 20 crash 2 torn
at 40 restart 2 amnesia
drop ticks=5..9 kind=qc,block type=precommit from=1 to=2,3 height=0 round=1..2
delay 4 kind=proposal
at 30 expect locked 1 none
expect violation fork 3
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sc.Config
	if cfg.Validators != 7 || cfg.Stakes[6] != 2 || cfg.Faults[6] != Twin || cfg.MinLatency != 2 || cfg.MaxLatency != 3 || cfg.HealAt != 100 {
		t.Fatalf("settings: %+v", cfg)
	}
	wantParts := []Partition{{From: 10, To: 50, Groups: [][]int{{0, 1, 6}, {2, 3, SecondCopy(6)}}}, {From: 60, To: 100, Groups: [][]int{{0}, {1}}}}
	if fmt.Sprint(cfg.Partitions) != fmt.Sprint(wantParts) {
		t.Fatalf("partitions %v, want %v", cfg.Partitions, wantParts)
	}
	if len(cfg.Crashes) != 1 || cfg.Crashes[0] != (Crash{Node: 2, At: 20, RestartAt: 40, Amnesia: true, Torn: true}) {
		t.Fatalf("crashes %+v", cfg.Crashes)
	}
	r := cfg.Rules[0]
	if r.From != 5 || r.To != 9 || len(r.Kinds) != 2 || r.Kinds[1] != KindBlock || r.Type != 2 || r.Senders[0] != 1 || len(r.Receivers) != 2 || *r.Height != (Span{0, 0}) || *r.Round != (Span{1, 2}) || r.Delay != 0 {
		t.Fatalf("drop rule %+v", r)
	}
	if cfg.Rules[1].Delay != 4 || len(cfg.Probes) != 1 || cfg.Probes[0].At != 30 || sc.Violation != "fork" || sc.Violator != 3 {
		t.Fatalf("delay rule, probes or violation: %+v %+v %q %d", cfg.Rules[1], cfg.Probes, sc.Violation, sc.Violator)
	}
	for _, bad := range []struct{ text, want string }{
		{"validators 4\nfrobnicate 3\n", ":2: unknown directive"},
		{"validators 4\nfault 1 sneaky\n", ":2: unknown fault"},
		{"validators 4\nat 5 restart 1\n", ":2: restart of v1 without a crash"},
		{"validators 4\ndrop kind=carrier\n", ":2: unknown kind"},
		{"validators 4\ndrop round=3..1\n", ":2: empty range"},
		{"validators 4\nat x crash 1\n", ":2: \"x\" is not a number"},
		{"validators 4\nat 9 expect height 1 > 2\n", ":2: unknown comparison"},
		{"validators 4\nfault 9 mute\n", "outside 4 validators"},
		{"stakes 1 2\nvalidators 3\n", "2 stakes for 3 validators"},
	} {
		if _, err := ParseScenario("bad", strings.NewReader(bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.text, err, bad.want)
		}
	}
}
