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
// throughput, rejections by reason, and inclusion latency.
//
// With Batch 1 it sends the way wallets do: one plain JSON-RPC request
// object per transfer (a prebuilt body, no reflection), over Conns
// keep-alive connections of one transport, connection w to endpoint
// w mod len(Endpoints), taking slots of one schedule at Rate requests a
// second. Each account belongs to one connection and has at most one
// transfer in flight; its next transfer goes only after the previous one was
// accepted, so a refusal cannot leave a nonce gap. A refusal for room
// (-32005 such as "txpool is full", whose data may carry reason and
// retry_after_ms; HTTP 429/503) is retried with the same bytes at the
// account's next turn, after retry_after_ms; an unanswered request (a node
// down, a reset, a timeout) goes again to the next endpoint, and "already
// known" in answer to that retry counts as accepted. Any other error stops
// the account. Batch > 1 sends JSON-RPC batches, each transfer once.
//
// The measured window is sending after Warmup: committed tx/s, the block
// interval (average, p95, max), inclusion, transfers per block, the client's
// CPU (getrusage of this process: cores and µs per request) and, from the
// nodes' Prometheus endpoints (process_cpu_seconds_total at the window's
// start and end), the nodes' cores and µs per committed transaction per
// node. A second mode
// measures read calls (eth_blockNumber, eth_getBalance, …) at a fixed rate,
// timing each call from its scheduled start so that a slow server cannot
// hide its queueing.
//
// It must not reach into a running node's process: nodes are separate
// processes, and the load generator uses only JSON-RPC.
package testnet
