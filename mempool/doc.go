// Package mempool holds the transactions waiting for a block: admission
// with every rejection as its own error, per-sender nonce ordering with
// pending and queued transactions, replacement by fee bump, limits with
// price-based eviction, expiry, and block selection by effective gas price.
//
// It imports only chain. It does not gossip, does not execute blocks and
// reads the committed state only through StateReader; the node tells it
// about committed blocks (Committed) and the time (Options.Now). For
// callers that must tell junk from a race, Invalid separates refusals for
// what a transaction is (stateless rules, signature) from refusals for the
// state or the pool it met; Parse and Recover run Add's first checks alone,
// so that a batch can be refused before any signature is recovered.
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
// A transaction with the nonce of one already held, pending or queued,
// replaces it only if both its fee cap and its tip are at least
// PriceBumpPercent higher, and only MaxReplacementsPerSender of one sender's
// replacements are taken between two committed blocks (ErrReplaceLimit): a
// replaced transaction never runs, so its fee is never paid, and re-pricing
// a queued one costs nothing at all. Filling a gap promotes the queued
// transactions behind it, up to MaxPendingPerSender.
//
// # Balance
//
// The sender's committed balance must pay for all its pooled transactions at
// once: value + gas × fee cap of every pending and queued one, plus the new
// one (in place of the one it replaces), as go-ethereum's pool requires;
// otherwise the new one is refused with chain.ErrInsufficientFunds. An
// account funded for one transfer holds one transaction, not a thousand
// that could never all run. Each sender keeps a running total, changed as
// transactions enter, are replaced, evicted, expire or are included, so the
// check costs O(1). When a block lowers a sender's balance (Committed), the
// sender's highest nonces leave until the balance pays for the rest: queued
// ones first, then the pending run from its end.
//
// # Limits and eviction
//
// When the pool exceeds MaxTxs or MaxBytes, or a shard exceeds its share, the
// cheapest transaction by effective gas price goes, the newest of equal ones
// first. An incoming queued transaction may only displace queued ones. If the
// cheapest is the incoming transaction itself, it is refused as underpriced.
// Evicting a pending transaction demotes its sender's later ones to queued,
// and a sender's queue over its limit loses its highest nonces.
//
// # Backpressure
//
// Admission (admission.go) is the door for client transactions: it bounds
// the pool's pending transactions by the capacity the committed blocks show
// (their sizes, timestamps and rounds), refuses what does not fit with a
// reason and a retry hint, shares the room fairly among clients, and gives
// the proposer the same capacity as its block size. Gossiped transactions,
// already admitted by another node's door, do not pass it.
//
// # Selection
//
// Fill offers transactions to a chain.Builder: within a sender by nonce,
// across senders the best next transaction by effective gas price, ties to
// the earlier arrival, using a heap over each sender's lowest pending nonce.
// The builder checks every transaction against the block's state, so a
// transaction the state would reject is never selected; the rest of that
// sender's transactions are skipped for the block.
//
// # Journal
//
// Journal (journal.go, whose doc comment gives the file format) keeps the
// transactions a node received from its clients. The node's JSON-RPC path
// admits a transaction, appends it (Append returns once the record is
// written and fsynced; concurrent appends are group-committed, one writer
// goroutine syncing every record queued since its last sync at once), and
// only then gossips and answers; if the append fails it takes the
// transaction out again (Remove) and the client gets the error. After a
// failed write or sync every later append fails until restart. OpenJournal
// reads the file at start and admits its records again through AddTxs: what
// became invalid while the node was down is dropped and counted by reason. A
// torn last record is cut; a bad record with data after it cuts there too,
// and the file is first copied aside; a header of another format is refused.
// The file is then rewritten to exactly the admitted transactions. After
// every sync and every Trim (the node calls it per block) the journal is
// compacted, in its own goroutine, when it holds more than twice the pool's
// transactions or bytes (and more than JournalMinRecords or JournalMinBytes):
// the live set is written to a temporary file without holding appends, which
// then wait only while the records appended meanwhile are copied and the file
// renamed. Transactions received by gossip are not journaled.
package mempool
