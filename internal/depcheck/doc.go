// Package depcheck holds the test that keeps the module's import rules:
// imports point from cmd to node to the subsystems to chain, and the
// subsystems (consensus, mempool, p2p, rpc) never import each other. Each
// internal/<x> package is an area of its own; internal/codec and
// internal/config are leaves, which import nothing of the module and which
// every other package may import. It has no code of its own.
package depcheck
