// Package sim runs many consensus cores together on a virtual clock, over
// a simulated network, to check that the protocol is safe and live under
// faults. It is a test harness: nothing in a node imports it.
//
// # What it owns
//
// A seeded, deterministic event-queue simulator (Run): every validator is
// the consensus driver a node ships (package consensus/driver: apply
// commits, persist the core's State with its payloads, send, propose in
// the block's slot, check proposals' blocks and bound how many one round
// may make it execute, hold proposals for the next height and step them
// after Advance, fetch committed blocks) over in-memory implementations of
// its chain (a log of small blocks), its store (kept across crashes), its
// transport and its clock (node.go); two drivers with one key for a twin.
// The network has latency, loss, duplication, reordering, partitions, and
// targeted drops and delays (Rule); validators crash and restart from
// their chain and store (or, to show why it matters, without the store),
// or crash torn, after a block is applied and before anything more is
// written or sent; byzantine validators equivocate, vote twice, corrupt
// signatures, withhold votes, aggregate badly, run twice with one key,
// attack locks, forge certificates, usurp, stay silent as leaders or
// flood the others with blocks (Fault). Everything random derives from
// Config.Seed, so a failure replays exactly.
//
// Signatures use a fast insecure scheme (crypto.go) whose signer reports
// every message it signs to a checker (check.go). Safety is checked as the
// run goes, not only at the end: honest validators never commit different
// blocks at one height (fork); never sign two different blocks for one
// height, round and message type, across restarts (double-sign); never
// send a signature their persisted State does not record, unless their
// chain has committed its height (unpersisted); never execute more
// proposed blocks for one round than the driver's bound (flooded);
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
// core's or the driver's rules: it runs the shipped code and watches it.
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
