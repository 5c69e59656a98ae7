// Package mempool holds the transactions waiting for a block: admission
// with every rejection as its own error, per-sender nonce ordering with
// pending and queued transactions, replacement by fee bump, limits with
// price-based eviction, expiry, and block selection by effective gas price.
//
// It imports only chain. It does not gossip, does not execute blocks and
// reads the committed state only through StateReader; the node tells it
// about committed blocks (Committed) and the time (Options.Now).
//
// # Sharding
//
// The pool is split into shards by sender, as the design document's
// GetMempoolShard does: shard = first byte of the sender address modulo the
// shard count. Each shard has its own lock, so admissions from senders in
// different shards proceed in parallel. The whole-pool count and bytes are
// atomic counters. A separate lock-striped index by transaction hash answers
// "already known" before the sender is recovered.
//
// # Per sender
//
// A sender's transactions with contiguous nonces from its committed nonce
// are pending (executable); the rest are queued (waiting for a gap to fill).
// A transaction with the nonce of one already held replaces it only if both
// its fee cap and its tip are at least PriceBumpPercent higher. Filling a gap
// promotes the queued transactions behind it, up to MaxPendingPerSender.
//
// # Limits and eviction
//
// When the pool exceeds MaxTxs or MaxBytes, or a shard exceeds its share, the
// cheapest transaction by effective gas price goes, the newest of equal ones
// first. An incoming queued transaction may only displace queued ones. If the
// cheapest is the incoming transaction itself, it is refused as underpriced.
// Evicting a pending transaction demotes its sender's later ones to queued.
//
// # Selection
//
// Fill offers transactions to a chain.Builder: within a sender by nonce,
// across senders the best next transaction by effective gas price, ties to
// the earlier arrival, using a heap over each sender's lowest pending nonce.
// The builder checks every transaction against the block's state, so a
// transaction the state would reject is never selected; the rest of that
// sender's transactions are skipped for the block.
package mempool
