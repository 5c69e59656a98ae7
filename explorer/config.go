package explorer

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/bizra/node0/internal/config"
	"github.com/bizra/node0/rpc"
)

// Config is the explorer's configuration. DefaultConfig fills every field;
// Validate reports every problem at once.
type Config struct {
	// RPC is the node's JSON-RPC HTTP URL; WS its WebSocket URL (empty: the
	// RPC URL with ws:// in place of http://).
	RPC string `toml:"rpc"`
	WS  string `toml:"ws"`
	// Postgres is the primary's connection string (URL or key=value); empty
	// takes everything from the standard PG* variables.
	Postgres string `toml:"postgres"`
	// Replicas are connection strings of streaming replicas for reads.
	Replicas []string `toml:"replicas"`
	// Redis is a redis:// URL; empty runs with the in-process tier only.
	Redis string `toml:"redis"`
	// Listen is the address of the HTTP API, web page and /metrics.
	Listen string `toml:"listen"`

	// PoolSize and ReplicaPoolSize bound the connections per pool; 0 takes
	// the design document's rule, 2 × cores + 1.
	PoolSize        int `toml:"pool_size"`
	ReplicaPoolSize int `toml:"replica_pool_size"`
	// MaxReplicaLag is the replay delay past which a replica stops serving
	// reads; HealthInterval how often replicas are checked.
	MaxReplicaLag  time.Duration `toml:"max_replica_lag"`
	HealthInterval time.Duration `toml:"health_interval"`

	// RawBlocks reads blocks with bizra_getRawBlocks (the store's compact
	// encodings) rather than eth_getBlockByNumber, eth_getBlockReceipts and
	// bizra_getBlockCertificate; a node without it is read the Ethereum way.
	RawBlocks bool `toml:"raw_blocks"`
	// FetchWorkers fetch FetchBlocks heights per JSON-RPC batch in parallel.
	FetchWorkers int `toml:"fetch_workers"`
	FetchBlocks  int `toml:"fetch_blocks"`
	// A write batch ends at BatchBlocks blocks or BatchTxs transactions.
	BatchBlocks int `toml:"batch_blocks"`
	BatchTxs    int `toml:"batch_txs"`
	// PollInterval is how often the node's head is polled when no newHeads
	// notification arrives; RetryInterval the pause after the node fails.
	PollInterval  time.Duration `toml:"poll_interval"`
	RetryInterval time.Duration `toml:"retry_interval"`

	// ReputationWindow is the sliding window of blocks reputation is
	// computed over (see the package documentation for the formula).
	ReputationWindow int `toml:"reputation_window"`
	// LeaderboardRefresh is the period of REFRESH MATERIALIZED VIEW
	// CONCURRENTLY validator_leaderboard.
	LeaderboardRefresh time.Duration `toml:"leaderboard_refresh"`
	// WarmInterval is the period of cache warming (also done at start).
	WarmInterval time.Duration `toml:"warm_interval"`
	// LocalTTL is the lifetime of the in-process tier; LocalEntries bounds it.
	LocalTTL     time.Duration `toml:"local_ttl"`
	LocalEntries int           `toml:"local_entries"`
	// RedisTimeout bounds one Redis call; past it the read goes on to
	// PostgreSQL.
	RedisTimeout time.Duration `toml:"redis_timeout"`
	// QueryTimeout bounds one API request's database work.
	QueryTimeout time.Duration `toml:"query_timeout"`
	// WriteTimeout bounds one HTTP request from the end of its headers to
	// the end of its answer: a client that stops reading is cut off then.
	// It must exceed QueryTimeout.
	WriteTimeout time.Duration `toml:"write_timeout"`
}

// DefaultConfig returns the defaults: a node on 127.0.0.1:8545, Postgres
// from the PG* variables, no replicas, no Redis, the API on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		RPC:                "http://127.0.0.1:8545",
		RawBlocks:          true,
		Listen:             "127.0.0.1:8080",
		MaxReplicaLag:      30 * time.Second,
		HealthInterval:     2 * time.Second,
		FetchWorkers:       4,
		FetchBlocks:        16,
		BatchBlocks:        500,
		BatchTxs:           50_000,
		PollInterval:       time.Second,
		RetryInterval:      2 * time.Second,
		ReputationWindow:   1000,
		LeaderboardRefresh: 5 * time.Minute,
		WarmInterval:       time.Hour,
		LocalTTL:           time.Minute,
		LocalEntries:       10_000,
		RedisTimeout:       100 * time.Millisecond,
		QueryTimeout:       5 * time.Second,
		WriteTimeout:       30 * time.Second,
	}
}

// poolSize is the design document's rule for a pool: 2 × cores + 1.
func poolSize(n int) int32 {
	if n > 0 {
		return int32(n)
	}
	return int32(2*runtime.NumCPU() + 1)
}

// wsURL is the WebSocket URL of the node.
func (c *Config) wsURL() string {
	if c.WS != "" {
		return c.WS
	}
	switch {
	case strings.HasPrefix(c.RPC, "https://"):
		return "wss://" + strings.TrimPrefix(c.RPC, "https://")
	case strings.HasPrefix(c.RPC, "http://"):
		return "ws://" + strings.TrimPrefix(c.RPC, "http://")
	}
	return ""
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkURL := func(name, s string, schemes ...string) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			bad("%s: %q is not a URL", name, s)
			return
		}
		for _, sc := range schemes {
			if u.Scheme == sc {
				return
			}
		}
		bad("%s: scheme %q, want one of %s", name, u.Scheme, strings.Join(schemes, ", "))
	}
	checkURL("rpc", c.RPC, "http", "https")
	if c.WS != "" {
		checkURL("ws", c.WS, "ws", "wss")
	}
	if c.Redis != "" {
		checkURL("redis", c.Redis, "redis", "rediss")
	}
	if c.Listen == "" {
		bad("listen: empty")
	}
	for i, r := range c.Replicas {
		if strings.TrimSpace(r) == "" {
			bad("replicas[%d]: empty", i)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"fetch_workers", c.FetchWorkers}, {"fetch_blocks", c.FetchBlocks}, {"batch_blocks", c.BatchBlocks},
		{"batch_txs", c.BatchTxs}, {"reputation_window", c.ReputationWindow}, {"local_entries", c.LocalEntries}} {
		if f.v <= 0 {
			bad("%s: %d, must be positive", f.name, f.v)
		}
	}
	if c.FetchBlocks > rpc.MaxRawBlocks {
		bad("fetch_blocks: %d, at most %d (bizra_getRawBlocks' limit; three calls a block also fit one JSON-RPC batch)", c.FetchBlocks, rpc.MaxRawBlocks)
	}
	if c.PoolSize < 0 || c.ReplicaPoolSize < 0 {
		bad("pool sizes must not be negative")
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"max_replica_lag", c.MaxReplicaLag}, {"health_interval", c.HealthInterval}, {"poll_interval", c.PollInterval},
		{"retry_interval", c.RetryInterval}, {"leaderboard_refresh", c.LeaderboardRefresh}, {"warm_interval", c.WarmInterval},
		{"local_ttl", c.LocalTTL}, {"redis_timeout", c.RedisTimeout}, {"query_timeout", c.QueryTimeout},
		{"write_timeout", c.WriteTimeout}} {
		if f.v <= 0 {
			bad("%s: %v, must be positive", f.name, f.v)
		}
	}
	if c.WriteTimeout > 0 && c.WriteTimeout <= c.QueryTimeout {
		bad("write_timeout: %v, must exceed query_timeout (%v), or answers to slow queries are cut off", c.WriteTimeout, c.QueryTimeout)
	}
	return errors.Join(errs...)
}

// LoadConfigFile reads a TOML file over cfg: keys are the toml tags of
// Config, durations are strings such as "5m". Keys absent keep what cfg
// holds. An unknown key, a wrong type or a key set twice is an error naming
// the file, line and key; cfg is then unchanged.
func LoadConfigFile(path string, cfg *Config) error {
	if err := config.DecodeFile(path, cfg); err != nil {
		return fmt.Errorf("explorer: config: %w", err)
	}
	return nil
}
