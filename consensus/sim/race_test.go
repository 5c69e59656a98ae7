//go:build race

package sim

// raceEnabled is true under the race detector, where the simulator runs
// about ten times slower: random-seed tests run fewer seeds.
const raceEnabled = true
