//go:build race

package p2p

// propagationRace is true under the race detector, where the propagation
// simulation runs several times slower: TestPropagationSmall uses fewer
// nodes and a larger time dilation.
const propagationRace = true
