// Package testnet drives BIZRA nodes from outside, the way an operator or a
// benchmark does: the local multi-node testnet behind `bizra testnet`, and
// the load generator behind `bizra load`.
//
// A local testnet (InitLocal, RunLocal) is N validator homes in one
// directory, written with the node package's own init: distinct loopback
// ports per node (JSON-RPC, metrics, libp2p TCP and QUIC), every node a
// persistent peer of every other, one genesis with all validators and their
// proofs of possession, optional region labels for emulated wide-area
// latency. RunLocal starts one `bizra start` process per home and stops
// them all on cancellation.
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
// It must not reach into a running node's process: nodes are separate
// processes, and the load generator uses only JSON-RPC.
package testnet
