// Package chain owns the ledger of a BIZRA node: block and header types and
// their canonical encoding, Ethereum-compatible value-transfer transactions,
// the genesis file, account state and its transition function, receipts, and
// the Pebble store with its indexes.
//
// It imports no other package of this module. It does not decide which block
// commits (that is the consensus engine's job), does not gossip, keeps no
// mempool and starts no goroutines except short-lived workers inside one call
// (the state root is summed on all cores). Callers drive it from one goroutine
// per chain: build or execute a block, then commit it; readers (JSON-RPC, the
// mempool) may call the read methods concurrently.
//
// # Using it
//
//	store, _ := chain.OpenStore(dir, chain.DefaultStoreOptions())
//	c, _ := chain.New(store, genesis, chain.DefaultConfig(), metrics, logger)
//	b := c.NewBuilder(chain.BuildParams{Proposer: addr, Timestamp: ms})
//	for _, tx := range candidates { _ = b.Add(tx) } // rejected txs leave no trace
//	pending := b.Finish()                           // header with roots filled
//	pending.Block.Cert = qc                          // optional certificate
//	_ = c.Commit(pending)                            // one synced Pebble batch
//
// A validator that receives a proposed block re-executes it with
// [Chain.Execute], which returns the same [Pending] or an error naming the
// first rule the block breaks.
//
// # Transactions
//
// Transactions are Ethereum value transfers in the legacy (EIP-155 protected),
// EIP-2930 and EIP-1559 envelopes, decoded and sender-recovered with
// go-ethereum. There is no EVM: a transaction must have a recipient, no data,
// no access list and a gas limit of exactly 21,000. The chain has a constant
// base fee equal to the genesis minimum gas price; the effective gas price is
// the legacy gas price, or min(fee cap, base fee + tip). The whole fee
// (21,000 × effective gas price) goes to the block proposer; nothing is
// burned, so the sum of all balances never changes. A transaction is
// admitted only if the sender's balance covers value + 21,000 × fee cap and
// its nonce equals the account nonce. Each rule has its own error in
// errors.go; a rejection that says more than its rule is a [TxError], which
// keeps the rule (errors.Is matches it) and the detail apart.
//
// # Canonical encodings
//
// All integers are big-endian and fixed-width; there are no optional fields,
// so every value has exactly one encoding and decoders reject anything else
// (short input, trailing bytes, unknown version, a length or count above its
// limit). The mechanics are package internal/codec's; the layouts and limits
// are these.
//
// Header (189 bytes), hashed with Keccak-256 to give the block hash:
//
//	version       u8   = 1
//	chain_id      u64
//	height        u64
//	round         u64  consensus round that produced the block
//	timestamp     u64  unix milliseconds
//	gas_used      u64
//	parent_hash   [32] hash of the parent header; for height 0, the genesis hash
//	proposer      [20] fee recipient of the proposing validator (zero at height 0)
//	tx_root       [32] Merkle root of the transaction hashes
//	state_root    [32] lattice hash of all accounts after the block (see below)
//	receipts_root [32] Merkle root of the receipt encodings
//
// Block: the header, then u32 transaction count, then for each transaction
// u32 length and its Ethereum binary encoding (the bytes whose Keccak-256 is
// the transaction hash), then u32 length and the quorum certificate. The
// certificate is opaque to this package and is not covered by the block hash:
// it certifies that hash. An empty certificate (length 0) is a block without
// one. The decoder checks each length and count against a limit before it
// allocates anything for it:
//
//	tx count     at most MaxBlockTxsLimit (1,000,000), the largest
//	             limits.block_max_txs a genesis may set; a count is also
//	             refused when its length prefixes alone (4 bytes each)
//	             exceed the rest of the input
//	transaction  at most MaxMaxTxBytes (131,072 bytes), the largest
//	             limits.max_tx_bytes a genesis may set
//	certificate  at most MaxCertBytes (131,385 bytes): a consensus
//	             precommit certificate with a signer bitmap of 2^20
//	             validators (131,072 bytes), a signature of up to 256 bytes
//	             and 57 bytes of fixed fields; package consensus checks at
//	             compile time that its largest certificate has this size
//
// These are bounds of the format, the same for every chain. A chain's own
// genesis limits are tighter, and block execution checks them.
//
// Receipt (69 bytes): status u8, gas_used u64, cumulative_gas_used u64,
// effective_gas_price [32] (256-bit), from [20].
//
// Account (40 bytes): nonce u64, balance [32] (256-bit). An account with
// nonce 0 and balance 0 does not exist and is not stored.
//
// Merkle roots (transactions and receipts) are binary trees with domain
// separation: a transaction leaf is keccak(0x00 || transaction hash), a
// receipt leaf is keccak(0x00 || receipt encoding), a node is keccak(0x01 ||
// left || right), an odd node is carried up unchanged, and the empty root is
// keccak("").
//
// # State root
//
// The state root commits to the set of all non-empty accounts with a lattice
// hash (LtHash, Bellare–Micciancio's additive hash as deployed for update
// verification): each account maps to a vector of 1024 16-bit lanes, the
// BLAKE3 extended output of ("bizra/state/account/v1" || address || account
// encoding); the state is the lane-wise sum modulo 2^16 of its accounts'
// vectors; the state root is BLAKE3-256 of that 2048-byte sum. A block
// subtracts the old vector and adds the new one of each account it touches,
// so the cost of a state root follows the accounts a block touches, not the
// size of the state, and the result does not depend on the order of
// updates. The trade-off against a Merkle trie is the absence of
// per-account inclusion proofs.
//
// # Store key layout
//
// One Pebble database per node. Every key starts with a one-byte table prefix;
// the layout is defined in keys.go and nowhere else:
//
//	'm' name            metadata: "head" → u64 last committed height,
//	                    "genesis" → genesis hash, "lattice" → 2048-byte state sum
//	'b' part u64 h u64  block encoding at height h, part = h / 1,000,000
//	'r' part u64 h u64  receipts of the block at height h, concatenated
//	'H' hash [32]       block hash → u64 height
//	't' hash [32]       transaction hash → u64 height, u32 index
//	'a' address [20]    account encoding
//	'c' name            auxiliary records of other subsystems, not part of
//	                    the chain (Store.WriteAux): the consensus engine's
//	                    safety state and the blocks it is locked on
//
// The height partition in block and receipt keys keeps each million blocks
// contiguous, so a partition's blocks and receipts can be pruned with two
// range deletions or moved (PartitionRanges); the hash-keyed indexes of its
// blocks and transactions must then be deleted too.
// Each committed block is written in one synced batch (block, receipts,
// indexes, accounts, state sum, head), so a crash leaves the store at the last
// committed block, never half of one.
package chain
