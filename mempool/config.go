package mempool

import (
	"errors"
	"strings"
	"time"

	"github.com/bizra/node0/internal/config"
)

// Config bounds the pool. DefaultConfig documents the defaults; the toml
// and doc tags are the [mempool] section of a node's config file.
type Config struct {
	// Shards is the number of sender shards, each with its own lock.
	Shards int `toml:"shards" doc:"Sender shards, each with its own lock (shard = first address byte mod shards)."`
	// MaxTxs and MaxBytes bound the whole pool (bytes of raw encodings).
	MaxTxs   int   `toml:"max_txs" doc:"Transactions held at most; when full, the cheapest by effective gas price go first."`
	MaxBytes int64 `toml:"max_bytes" doc:"Bytes of transaction encodings held at most; when full, the cheapest go first."`
	// ShardShare is how many times its fair share (limit / Shards) one shard
	// may hold, so that senders ground into one shard cannot fill the pool.
	ShardShare float64 `toml:"shard_share" doc:"How many times its fair share (limit / shards) one shard may hold."`
	// MaxPendingPerSender and MaxQueuedPerSender bound one sender.
	MaxPendingPerSender int `toml:"max_pending_per_sender" doc:"Executable transactions of one sender held at most."`
	MaxQueuedPerSender  int `toml:"max_queued_per_sender" doc:"Transactions of one sender waiting behind a nonce gap held at most."`
	// QueueLifetime is how long a queued transaction may wait for its gap.
	QueueLifetime time.Duration `toml:"queue_lifetime" doc:"How long a transaction may wait behind a nonce gap."`
	// PriceBumpPercent is the increase of fee cap and tip a replacement needs.
	PriceBumpPercent int `toml:"price_bump_percent" doc:"Fee cap and tip increase a replacement needs, in percent."`
	// MaxReplacementsPerSender bounds how many of its transactions, pending
	// or queued, one sender may replace between two committed blocks. A
	// replaced transaction never runs, so its fee is never paid: without a
	// bound one funded account could re-price a queued transaction without
	// end, each copy gossiped to every node.
	MaxReplacementsPerSender int `toml:"max_replacements_per_sender" doc:"Transactions one sender may replace (re-price) between two committed blocks."`
	// AdmitBlocks and MinBlockTxs shape the door (see Admission): client
	// transactions are admitted while the pool holds fewer pending ones
	// than AdmitBlocks blocks of the capacity the chain shows it takes; the
	// capacity, which also bounds proposals, never falls below MinBlockTxs.
	AdmitBlocks float64 `toml:"admit_blocks" doc:"Pending transactions admitted from clients at most, in blocks of the capacity the chain shows (0: no bound but the pool's limits). A transaction admitted is in one of the next admit_blocks + 1 blocks."`
	MinBlockTxs int     `toml:"min_block_txs" doc:"The estimated block capacity, which bounds proposals and the door, never falls below this (0: one transaction)."`

	// Journal keeps every transaction received over JSON-RPC in a file,
	// written and fsynced before the client gets its hash, and admits them
	// again when the node starts (see Journal). JournalFile is the file,
	// relative to the node's home.
	Journal     bool   `toml:"journal" doc:"Journal transactions received over JSON-RPC (fsynced before the answer) and admit them again at start, so that a crash loses none whose hash was returned."`
	JournalFile string `toml:"journal_file" doc:"The journal file, relative to the home directory; its size is bounded by max_txs and max_bytes (twice each, plus 1024 records and 1 MiB)."`
}

// DefaultConfig returns a pool of 16 shards holding up to 500,000
// transactions or 256 MiB of encodings (about 250 MiB of memory when full,
// see BENCHMARKS.md), a shard at most twice its fair share, 1,024 pending
// and 64 queued transactions per sender, queued transactions kept for ten
// minutes, and a 10% price bump for replacements, at most 8 of one sender's
// per block. A wallet re-prices a stuck transaction at most once a block
// (the new price counts only when the next block is built), so 8 lets a
// sender speed up 8 stuck nonces at once; more wait for the next block.
// Client transactions are admitted while the pending ones fit one block of
// the chain's measured capacity, which never falls below 200.
// The journal is on, in mempool.journal under the node's home.
func DefaultConfig() Config {
	return Config{
		Shards:              16,
		MaxTxs:              500_000,
		MaxBytes:            256 << 20,
		ShardShare:          2,
		MaxPendingPerSender: 1024,
		MaxQueuedPerSender:  64,
		QueueLifetime:       10 * time.Minute,
		PriceBumpPercent:    10,

		MaxReplacementsPerSender: 8,

		AdmitBlocks: 1,
		MinBlockTxs: 200,
		Journal:     true,
		JournalFile: "mempool.journal",
	}
}

// Validate reports every problem at once, joined, each a
// *config.FieldError keyed by its setting ("shards"); it never changes the
// config. New refuses an invalid config with ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if c.Shards < 1 || c.Shards > 256 {
		bad("shards", "must be between 1 and 256, not %d", c.Shards)
	}
	if c.MaxTxs < 1 || c.MaxTxs > 100_000_000 {
		bad("max_txs", "must be between 1 and 100000000, not %d", c.MaxTxs)
	}
	if c.MaxBytes < 1 {
		bad("max_bytes", "must be positive, not %d", c.MaxBytes)
	}
	if !(c.ShardShare >= 1 && c.ShardShare <= 256) {
		bad("shard_share", "must be between 1 and 256, not %g", c.ShardShare)
	}
	if c.MaxPendingPerSender < 1 {
		bad("max_pending_per_sender", "must be positive, not %d", c.MaxPendingPerSender)
	}
	if c.MaxQueuedPerSender < 0 {
		bad("max_queued_per_sender", "must be 0 or more, not %d", c.MaxQueuedPerSender)
	}
	if c.QueueLifetime < time.Second {
		bad("queue_lifetime", "must be at least 1s, not %s", config.FormatDuration(c.QueueLifetime))
	}
	if c.PriceBumpPercent < 1 || c.PriceBumpPercent > 1000 {
		bad("price_bump_percent", "must be between 1 and 1000, not %d", c.PriceBumpPercent)
	}
	if c.MaxReplacementsPerSender < 0 || c.MaxReplacementsPerSender > 1_000_000 {
		bad("max_replacements_per_sender", "must be between 0 and 1000000, not %d", c.MaxReplacementsPerSender)
	}
	if !(c.AdmitBlocks >= 0 && c.AdmitBlocks <= 100) {
		bad("admit_blocks", "must be between 0 and 100, not %g", c.AdmitBlocks)
	}
	if c.MinBlockTxs < 0 || c.MinBlockTxs > 1_000_000 {
		bad("min_block_txs", "must be between 0 and 1000000, not %d", c.MinBlockTxs)
	}
	if c.Journal && strings.TrimSpace(c.JournalFile) == "" {
		bad("journal_file", "must not be empty when the journal is on")
	}
	return errors.Join(errs...)
}

// shardLimits returns the most transactions and bytes one shard may hold.
func (c Config) shardLimits() (int, int64) {
	n := int(float64(c.MaxTxs)*c.ShardShare/float64(c.Shards) + 0.999999)
	b := int64(float64(c.MaxBytes)*c.ShardShare/float64(c.Shards) + 0.999999)
	return max(n, 1), max(b, 1)
}
