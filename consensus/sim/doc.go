// Package sim runs many consensus cores together on a virtual clock, over
// a simulated network, to check that the protocol is safe and live under
// faults. It is a test harness: nothing in a node imports it.
//
// # What it owns
//
// A seeded, deterministic event-queue simulator (Run): every validator is
// one consensus.Core (two for a twin) with a driver that does what a node's
// engine does — apply commits, persist the core's State, send, propose,
// fetch committed blocks, hold proposals for later heights — on a network
// with latency, loss, duplication, reordering, partitions, and targeted
// drops and delays (Rule); validators crash and restart from their chain
// and persisted State (or, to show why it matters, without it); byzantine
// validators equivocate, vote twice, corrupt signatures, withhold votes,
// aggregate badly, run twice with one key, attack locks, forge
// certificates, usurp or stay silent as leaders (Fault). Everything random
// derives from Config.Seed, so a failure replays exactly.
//
// Signatures use a fast insecure scheme (crypto.go) whose signer reports
// every message it signs to a checker (check.go). Safety is checked as the
// run goes, not only at the end: honest validators never commit different
// blocks at one height (fork); never sign two different blocks for one
// height, round and message type, across restarts (double-sign); never
// send a signature their persisted State does not record (unpersisted);
// prevote only what the round's leader proposed, precommit only with a
// quorum of prevotes, and commit only with a quorum of precommits
// (unjustified). Liveness is checked at the end: every running honest
// validator commits Config.WantHeights heights after the heal.
//
// Scenarios (scenario.go, testdata/scenarios/*.txt) write attacks down
// step by step in a line-based format: settings, byzantine roles, timed
// partitions, crashes and restarts, network rules, and expectations at
// ticks and at the end, including the violation a run must show.
//
// # What it must not do
//
// Read the clock or global randomness, start goroutines, or change the
// core's rules: it only drives cores and watches them.
//
// # Tests and flags
//
//	go test ./consensus/sim                                  seeds 1..500, scenarios, regression seeds
//	go test ./consensus/sim -run TestRandomSeeds -sim.seed=N -v [-sim.trace] [-sim.debug]
//	                                                         replay one seed with its trace (and messages, core logs)
//	go test ./consensus/sim -run TestRandomSeeds -sim.soak=30m -sim.first=S   a soak
//	go test ./consensus/sim -run 'TestScenarios/NAME$' -v -sim.trace          a scenario with its trace
//	go test ./consensus/sim -run '^$' -bench Sim                              simulated rounds per second
//
// A seed that ever fails goes into testdata/regression-seeds.txt.
// scripts/consensus-mutations.sh checks that these tests catch broken
// consensus rules.
package sim
