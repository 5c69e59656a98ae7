package mempool

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds the pool. DefaultConfig documents the defaults.
type Config struct {
	// Shards is the number of sender shards, each with its own lock.
	Shards int
	// MaxTxs and MaxBytes bound the whole pool (bytes of raw encodings).
	MaxTxs   int
	MaxBytes int64
	// ShardShare is how many times its fair share (limit / Shards) one shard
	// may hold, so that senders ground into one shard cannot fill the pool.
	ShardShare float64
	// MaxPendingPerSender and MaxQueuedPerSender bound one sender.
	MaxPendingPerSender int
	MaxQueuedPerSender  int
	// QueueLifetime is how long a queued transaction may wait for its gap.
	QueueLifetime time.Duration
	// PriceBumpPercent is the increase of fee cap and tip a replacement needs.
	PriceBumpPercent int
}

// DefaultConfig returns a pool of 16 shards holding up to 500,000
// transactions or 256 MiB of encodings (about 250 MiB of memory when full,
// see BENCHMARKS.md), a shard at most twice its fair share, 1,024 pending
// and 64 queued transactions per sender, queued transactions kept for ten
// minutes, and a 10% price bump for replacements.
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
	}
}

// Validate reports every problem at once; it never changes the config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Shards < 1 || c.Shards > 256 {
		bad("mempool.shards %d must be between 1 and 256", c.Shards)
	}
	if c.MaxTxs < 1 || c.MaxTxs > 100_000_000 {
		bad("mempool.max_txs %d must be between 1 and 100000000", c.MaxTxs)
	}
	if c.MaxBytes < 1 {
		bad("mempool.max_bytes %d must be positive", c.MaxBytes)
	}
	if c.ShardShare < 1 || c.ShardShare > 256 {
		bad("mempool.shard_share %g must be between 1 and 256", c.ShardShare)
	}
	if c.MaxPendingPerSender < 1 {
		bad("mempool.max_pending_per_sender %d must be positive", c.MaxPendingPerSender)
	}
	if c.MaxQueuedPerSender < 0 {
		bad("mempool.max_queued_per_sender %d must not be negative", c.MaxQueuedPerSender)
	}
	if c.QueueLifetime < time.Second {
		bad("mempool.queue_lifetime %s must be at least 1s", c.QueueLifetime)
	}
	if c.PriceBumpPercent < 1 || c.PriceBumpPercent > 1000 {
		bad("mempool.price_bump_percent %d must be between 1 and 1000", c.PriceBumpPercent)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidConfig, errors.Join(errs...))
}

// shardLimits returns the most transactions and bytes one shard may hold.
func (c Config) shardLimits() (int, int64) {
	n := int(float64(c.MaxTxs)*c.ShardShare/float64(c.Shards) + 0.999999)
	b := int64(float64(c.MaxBytes)*c.ShardShare/float64(c.Shards) + 0.999999)
	return max(n, 1), max(b, 1)
}
