// Package depcheck holds the test that keeps the module's import rules:
// imports point from cmd to node to the subsystems to chain, and the
// subsystems (consensus, mempool, p2p, rpc) never import each other.
// It has no code of its own.
package depcheck
