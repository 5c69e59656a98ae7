// Package testnet drives BIZRA nodes from outside, the way an operator or a
// benchmark does: today the load generator behind `bizra load`; later the
// local multi-node testnet and its network conditions.
//
// The load generator talks to nodes only over JSON-RPC, so it works the same
// against one devnet or against every node of a testnet. It pre-signs
// transfers from many funded accounts before the clock starts (signing is
// slower than verifying), submits them at a target rate or as fast as they
// are accepted, follows the chain to see each one committed, and reports
// throughput, rejections by reason, and inclusion latency. A second mode
// measures read calls (eth_blockNumber, eth_getBalance, …) at a fixed rate,
// timing each call from its scheduled start so that a slow server cannot
// hide its queueing.
//
// It must not reach into a node's process: no imports of node internals
// beyond the chain types and the rpc client.
package testnet
