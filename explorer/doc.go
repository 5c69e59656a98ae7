// Package explorer is the block explorer: a process apart from any
// validator that follows a node over JSON-RPC and WebSocket, indexes its
// blocks, transactions and validators into PostgreSQL, caches what is read
// most in Redis and in process memory, and serves an HTTP JSON API and a web
// page.
//
// It owns the explorer's schema (versioned migrations in migrations/,
// applied at start), the routing of reads between a primary and its
// streaming replicas, the cache tiers and their invalidation, and the API.
// It must not be on a validator's critical path: it reads a node only
// through the node's public JSON-RPC, and a node that is down or restarting
// only pauses it.
//
// # Indexing
//
// The indexer keeps its position (height and hash of the last indexed
// block) in PostgreSQL, in the same transaction as the rows of a batch, so a
// restart resumes exactly where the last committed batch ended. It fetches
// blocks with eth_getBlockByNumber, eth_getBlockReceipts and
// bizra_getBlockCertificate in JSON-RPC batches from several workers at
// once, checks that each block's parent hash is the hash of the block before
// it (a mismatch stops the indexer with ErrForkDetected and writes
// nothing), and writes a range of blocks in one transaction with COPY.
// Replaying a range that is already indexed changes nothing: rows at or
// below the stored position are dropped before writing. Once caught up it
// follows newHeads over WebSocket, polling as a fallback.
//
// # Reputation
//
// Over a sliding window of the last W indexed blocks (Config.ReputationWindow,
// default 1,000), for a validator v with stake share s:
//
//	participation(v) = certificates in the window v signed / blocks in the window with a certificate
//	proposals(v)     = min(1, certified blocks in the window v proposed / (s × blocks in the window with a certificate))
//	reputation(v)    = 100 × (0.7 × participation(v) + 0.3 × proposals(v)), rounded to 0.01
//
// A validator that signs every certificate and proposes its share scores
// 100; one that is offline scores 0 once the window has passed.
//
// # Reads
//
// Writes and reads that must see the latest write go to the primary
// (WithStrongRead); other reads go round-robin to the healthy replicas and
// fall back to the primary when none is healthy or a replica fails. A cache
// fill of a key the indexer invalidates (latest blocks and transactions,
// statistics, validators, the leaderboard) is such a strong read: a replica
// a moment behind must not put back what an indexed block just dropped.
// Final things (a block, a transaction) and what is not cached (address
// pages, older pages) are read from the replicas. A
// replica is healthy when it answers, is in recovery and replays within
// Config.MaxReplicaLag of the primary.
//
// # Caching
//
// Cache-aside in two tiers: process memory (about one minute) in front of
// Redis (keys and lifetimes as the design document's §5: validator:<id> 15
// minutes, active_validators 5 minutes, the leaderboard as the sorted set
// "leaderboard"). Every indexed batch drops the keys it changed from both
// tiers and publishes them on the Redis channel <namespace>:invalidate so
// that other explorer processes drop them too. Redis names are prefixed by a
// namespace naming the database (the cluster's system identifier and the
// database name): explorers of one database share the cache, explorers of
// different chains sharing one Redis server never see each other's keys. Redis being down costs only
// speed: reads go to PostgreSQL and the metrics say so.
//
// Concurrent misses of one key share one load: the first starts it, the
// others wait for its result (bizra_explorer_cache_coalesced_total counts
// them), so a popular page expiring costs one Redis lookup and one query,
// not one per reader. A miss after an invalidation does not join a load
// that began before it, which may have read the old row; it starts its
// own. The load keeps the deadline of the request that started it but not
// its cancellation: a client that goes away does not fail the others.
//
// # Serving
//
// The HTTP server takes GETs only and bounds every phase of a connection:
// headers within 5 s (at most 64 KiB), the whole request within 10 s, the
// answer within Config.WriteTimeout (default 30 s, more than
// Config.QueryTimeout; a client that stops reading is cut off then), an
// idle keep-alive connection 2 minutes. Every answer carries
// X-Frame-Options: DENY, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and a Content-Security-Policy with
// frame-ancestors 'none' (the web page's allows only its own script, style
// and API; everything else's allows nothing).
package explorer
