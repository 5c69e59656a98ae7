package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/rpc"
)

// tomlStrings renders a TOML array of strings.
func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Config is the node configuration: the TOML file in the home directory,
// then command-line flags over it. Relative paths are relative to Home.
type Config struct {
	// Home is the node's directory. It is not read from the file.
	Home string `toml:"-"`

	Moniker   string          `toml:"moniker"`
	Chain     ChainConfig     `toml:"chain"`
	Validator ValidatorConfig `toml:"validator"`
	P2P       P2PConfig       `toml:"p2p"`
	Mempool   MempoolConfig   `toml:"mempool"`
	RPC       RPCConfig       `toml:"rpc"`
	Log       LogConfig       `toml:"log"`
	Metrics   MetricsConfig   `toml:"metrics"`
	Dev       DevConfig       `toml:"dev"`
}

// ChainConfig locates the genesis and the store.
type ChainConfig struct {
	GenesisFile      string `toml:"genesis_file"`
	DataDir          string `toml:"data_dir"`
	AccountCacheSize int    `toml:"account_cache_size"`
	// CacheMB is Pebble's block cache in MiB.
	CacheMB int `toml:"cache_mb"`
}

// ValidatorConfig locates the validator's BLS key.
type ValidatorConfig struct {
	KeyFile string `toml:"key_file"`
	// PassphraseFile holds the passphrase of an encrypted key file; empty
	// for an unencrypted key.
	PassphraseFile string `toml:"passphrase_file"`
}

// P2PConfig is the peer-to-peer layer: identity key, addresses, peers and
// gossip parameters (p2p.Config in the config file).
type P2PConfig struct {
	NodeKeyFile string `toml:"node_key_file"`
	// Enabled runs the libp2p host. A chain with more than one validator
	// needs it (or an in-process transport).
	Enabled     bool     `toml:"enabled"`
	ListenAddrs []string `toml:"listen_addrs"`
	Bootstrap   []string `toml:"bootstrap"`
	Persistent  []string `toml:"persistent"`
	LowWater    int      `toml:"low_water"`
	HighWater   int      `toml:"high_water"`
	// The gossip parameters of the design document: mesh degree, heartbeat,
	// and hops a message may travel (bounded by its age).
	FanOut          int      `toml:"fan_out"`
	GossipInterval  Duration `toml:"gossip_interval"`
	TTL             int      `toml:"ttl"`
	ClockDisparity  Duration `toml:"clock_disparity"`
	MaxMessageBytes int      `toml:"max_message_bytes"`
	DHT             bool     `toml:"dht"`
	// Region labels this node for emulated wide-area latency between
	// regions (testnets only); empty adds none.
	Region string `toml:"region"`
}

// Default peer-to-peer settings.
const (
	DefaultP2PPort         = 9000
	DefaultLowWater        = 32
	DefaultHighWater       = 96
	DefaultFanOut          = 6
	DefaultGossipInterval  = 100 * time.Millisecond
	DefaultTTL             = 6
	DefaultClockDisparity  = 500 * time.Millisecond
	DefaultMaxMessageBytes = 4 << 20
)

// DefaultP2PConfig listens on every interface, TCP and QUIC, port 9000.
func DefaultP2PConfig() P2PConfig {
	return P2PConfig{
		NodeKeyFile: "node_key.json",
		Enabled:     true,
		ListenAddrs: []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultP2PPort), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultP2PPort)},
		Bootstrap:   []string{}, Persistent: []string{},
		LowWater: DefaultLowWater, HighWater: DefaultHighWater,
		FanOut: DefaultFanOut, GossipInterval: Duration{DefaultGossipInterval}, TTL: DefaultTTL,
		ClockDisparity: Duration{DefaultClockDisparity}, MaxMessageBytes: DefaultMaxMessageBytes, DHT: true,
	}
}

func (c *P2PConfig) validate(bad func(string, ...any)) {
	if !c.Enabled {
		return
	}
	if len(c.ListenAddrs) == 0 {
		bad("p2p.listen_addrs must not be empty when p2p is enabled")
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"p2p.listen_addrs", c.ListenAddrs}, {"p2p.bootstrap", c.Bootstrap}, {"p2p.persistent", c.Persistent}} {
		for _, a := range list.addrs {
			if !strings.HasPrefix(a, "/") {
				bad("%s: %q is not a multiaddr (like /ip4/127.0.0.1/tcp/9000)", list.name, a)
			}
		}
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"p2p.bootstrap", c.Bootstrap}, {"p2p.persistent", c.Persistent}} {
		for _, a := range list.addrs {
			if strings.HasPrefix(a, "/") && !strings.Contains(a, "/p2p/") {
				bad("%s: %q has no /p2p/<peer id>", list.name, a)
			}
		}
	}
	if c.LowWater < 1 || c.HighWater < c.LowWater || c.HighWater > 10_000 {
		bad("p2p.low_water %d and high_water %d must satisfy 1 <= low_water <= high_water <= 10000", c.LowWater, c.HighWater)
	}
	if c.FanOut < 1 || c.FanOut > 64 {
		bad("p2p.fan_out %d must be between 1 and 64", c.FanOut)
	}
	if c.GossipInterval.Duration < 10*time.Millisecond || c.GossipInterval.Duration > 10*time.Second {
		bad("p2p.gossip_interval %s must be between 10ms and 10s", c.GossipInterval.Duration)
	}
	if c.TTL < 1 || c.TTL > 64 {
		bad("p2p.ttl %d must be between 1 and 64 hops", c.TTL)
	}
	if c.ClockDisparity.Duration < 0 || c.ClockDisparity.Duration > time.Minute {
		bad("p2p.clock_disparity %s must be between 0 and 1m", c.ClockDisparity.Duration)
	}
	if c.MaxMessageBytes < 64<<10 || c.MaxMessageBytes > 64<<20 {
		bad("p2p.max_message_bytes %d must be between 65536 and 67108864", c.MaxMessageBytes)
	}
	if c.Region != "" {
		if _, ok := regionIndex(c.Region); !ok {
			bad("p2p.region %q must be one of %s, or empty", c.Region, strings.Join(RegionNames(), ", "))
		}
	}
}

// MempoolConfig is mempool.Config in the config file.
type MempoolConfig struct {
	Shards              int      `toml:"shards"`
	MaxTxs              int      `toml:"max_txs"`
	MaxBytes            int64    `toml:"max_bytes"`
	ShardShare          float64  `toml:"shard_share"`
	MaxPendingPerSender int      `toml:"max_pending_per_sender"`
	MaxQueuedPerSender  int      `toml:"max_queued_per_sender"`
	QueueLifetime       Duration `toml:"queue_lifetime"`
	PriceBumpPercent    int      `toml:"price_bump_percent"`
}

func mempoolConfigFrom(c mempool.Config) MempoolConfig {
	return MempoolConfig{
		Shards: c.Shards, MaxTxs: c.MaxTxs, MaxBytes: c.MaxBytes, ShardShare: c.ShardShare,
		MaxPendingPerSender: c.MaxPendingPerSender, MaxQueuedPerSender: c.MaxQueuedPerSender,
		QueueLifetime: Duration{c.QueueLifetime}, PriceBumpPercent: c.PriceBumpPercent,
	}
}

// Pool returns the mempool.Config.
func (c MempoolConfig) Pool() mempool.Config {
	return mempool.Config{
		Shards: c.Shards, MaxTxs: c.MaxTxs, MaxBytes: c.MaxBytes, ShardShare: c.ShardShare,
		MaxPendingPerSender: c.MaxPendingPerSender, MaxQueuedPerSender: c.MaxQueuedPerSender,
		QueueLifetime: c.QueueLifetime.Duration, PriceBumpPercent: c.PriceBumpPercent,
	}
}

// RPCConfig is rpc.Config in the config file, plus a switch.
type RPCConfig struct {
	Enabled          bool     `toml:"enabled"`
	ListenAddr       string   `toml:"listen_addr"`
	MaxBodyBytes     int64    `toml:"max_body_bytes"`
	MaxBatch         int      `toml:"max_batch"`
	MaxResponseBytes int      `toml:"max_response_bytes"`
	RateLimit        float64  `toml:"rate_limit"`
	RateBurst        int      `toml:"rate_burst"`
	RequestTimeout   Duration `toml:"request_timeout"`
	MaxWSConns       int      `toml:"max_ws_conns"`
	MaxSubscriptions int      `toml:"max_subscriptions"`
	CORSOrigins      []string `toml:"cors_origins"`
}

func rpcConfigFrom(c rpc.Config) RPCConfig {
	if c.CORSOrigins == nil {
		c.CORSOrigins = []string{}
	}
	return RPCConfig{
		Enabled: true, ListenAddr: c.ListenAddr, MaxBodyBytes: c.MaxBodyBytes, MaxBatch: c.MaxBatch, MaxResponseBytes: c.MaxResponseBytes,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, RequestTimeout: Duration{c.RequestTimeout},
		MaxWSConns: c.MaxWSConns, MaxSubscriptions: c.MaxSubscriptions, CORSOrigins: c.CORSOrigins,
	}
}

// Server returns the rpc.Config.
func (c RPCConfig) Server() rpc.Config {
	return rpc.Config{
		ListenAddr: c.ListenAddr, MaxBodyBytes: c.MaxBodyBytes, MaxBatch: c.MaxBatch, MaxResponseBytes: c.MaxResponseBytes,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, RequestTimeout: c.RequestTimeout.Duration,
		MaxWSConns: c.MaxWSConns, MaxSubscriptions: c.MaxSubscriptions, CORSOrigins: c.CORSOrigins,
	}
}

// DefaultRPCAddr is where JSON-RPC is served by default.
const DefaultRPCAddr = "127.0.0.1:8545"

// Duration reads and writes TOML as a Go duration string such as "10m".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// MetricsConfig controls the Prometheus endpoint.
type MetricsConfig struct {
	Enabled    bool   `toml:"enabled"`
	ListenAddr string `toml:"listen_addr"`
	// Pprof also serves the Go profiler at /debug/pprof/ on the metrics
	// address.
	Pprof bool `toml:"pprof"`
}

// DevConfig holds development aids that a production node leaves off.
type DevConfig struct {
	// Traffic is the number of transfers per second the node generates
	// among the deterministic dev accounts; 0 turns it off.
	Traffic int `toml:"traffic"`
}

// DefaultMetricsAddr is where Prometheus metrics are served by default.
const DefaultMetricsAddr = "127.0.0.1:6060"

// MaxDevTraffic bounds the dev traffic generator.
const MaxDevTraffic = 100_000

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Moniker: "node0",
		Chain: ChainConfig{
			GenesisFile:      "genesis.json",
			DataDir:          "data",
			AccountCacheSize: chain.DefaultConfig().AccountCacheSize,
			CacheMB:          256,
		},
		Validator: ValidatorConfig{KeyFile: "validator_key.json"},
		P2P:       DefaultP2PConfig(),
		Mempool:   mempoolConfigFrom(mempool.DefaultConfig()),
		RPC:       rpcConfigFrom(rpc.DefaultConfig()),
		Log:       LogConfig{Level: "info", Format: "text"},
		Metrics:   MetricsConfig{Enabled: true, ListenAddr: DefaultMetricsAddr},
	}
}

// Validate reports every problem at once; it never changes the config.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.Home) == "" {
		bad("home directory is empty")
	}
	if strings.TrimSpace(c.Moniker) == "" {
		bad("moniker must not be empty")
	}
	for _, f := range []struct{ name, v string }{
		{"chain.genesis_file", c.Chain.GenesisFile},
		{"chain.data_dir", c.Chain.DataDir},
		{"validator.key_file", c.Validator.KeyFile},
		{"p2p.node_key_file", c.P2P.NodeKeyFile},
		{"log.level", c.Log.Level},
		{"log.format", c.Log.Format},
	} {
		if strings.TrimSpace(f.v) == "" {
			bad("%s must not be empty", f.name)
		}
	}
	c.P2P.validate(bad)
	if c.Metrics.Enabled && strings.TrimSpace(c.Metrics.ListenAddr) == "" {
		bad("metrics.listen_addr must not be empty when metrics are enabled")
	}
	if err := (chain.Config{AccountCacheSize: c.Chain.AccountCacheSize}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Chain.CacheMB < 8 || c.Chain.CacheMB > 1<<20 {
		bad("chain.cache_mb %d must be between 8 and 1048576", c.Chain.CacheMB)
	}
	if err := c.Mempool.Pool().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.RPC.Enabled {
		if err := c.RPC.Server().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error", "" /* reported above */ :
	default:
		bad("log.level %q must be one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json", "" /* reported above */ :
	default:
		bad("log.format %q must be text or json", c.Log.Format)
	}
	if c.Metrics.Enabled && c.Metrics.ListenAddr != "" {
		if err := checkListenAddr(c.Metrics.ListenAddr); err != nil {
			bad("metrics.listen_addr: %v", err)
		}
	}
	if c.Dev.Traffic < 0 || c.Dev.Traffic > MaxDevTraffic {
		bad("dev.traffic %d must be between 0 and %d transfers per second", c.Dev.Traffic, MaxDevTraffic)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidConfig, errors.Join(errs...))
}

// checkListenAddr accepts host:port with a numeric port (0 picks a free one).
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("%q: host must be an IP address or localhost", addr)
	}
	return nil
}

// Path resolves a path from the config against Home.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Home, p)
}

// ConfigFileName is the config file inside a home directory.
const ConfigFileName = "config.toml"

// LoadConfig reads home/config.toml strictly: unknown keys are errors.
// Keys absent from the file keep their defaults. It does not validate, so
// that flags can be applied first.
func LoadConfig(home string) (Config, error) {
	cfg := DefaultConfig()
	cfg.Home = home
	path := filepath.Join(home, ConfigFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("node: read config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return cfg, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, path, sm.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return cfg, fmt.Errorf("%w: %s:%d:%d: key %s: %v", ErrInvalidConfig, path, row, col, strings.Join(de.Key(), "."), de)
		}
		return cfg, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, path, err)
	}
	cfg.Home = home
	return cfg, nil
}

// EncodeConfig renders cfg as a commented TOML file.
func EncodeConfig(c *Config) []byte {
	q := strconv.Quote
	dm := mempool.DefaultConfig()
	dr := rpc.DefaultConfig()
	dp := DefaultP2PConfig()
	var b strings.Builder
	fmt.Fprintf(&b, `# BIZRA node configuration.
# Relative paths are relative to the home directory that holds this file.
# Every key may be left out; the comment above it gives its default.
# Command-line flags override the values here.

# Name of this node in logs and metrics. Default "node0".
moniker = %s

[chain]
# Genesis file; its hash identifies the chain. Default "genesis.json".
genesis_file = %s
# Pebble database directory. Default "data".
data_dir = %s
# Committed accounts kept in memory in front of Pebble (about 100 bytes
# each). Default %d.
account_cache_size = %d
# Pebble block cache in MiB. Default 256.
cache_mb = %d

[validator]
# BLS12-381 key that signs this validator's votes; mode 0600.
# Default "validator_key.json".
key_file = %s
# File holding the passphrase of an encrypted key file; empty when the key
# is not encrypted. Default "".
passphrase_file = %s

[p2p]
# Ed25519 key that identifies this node to its peers; mode 0600.
# Default "node_key.json".
node_key_file = %s
# Run the libp2p host. A chain with more than one validator needs it.
# Default true (bizra devnet turns it off).
enabled = %t
# Multiaddrs to listen on, TCP and QUIC. Default %s.
listen_addrs = %s
# Peers dialled at start, and peers redialled whenever they disconnect:
# multiaddrs ending in /p2p/<peer id>. Defaults [].
bootstrap = %s
persistent = %s
# Connection manager: trim connections above high_water down to low_water.
# Defaults %d and %d.
low_water = %d
high_water = %d
# Gossip: mesh degree (fan-out), heartbeat, and hops a message may travel;
# a message older than ttl x gossip_interval + clock_disparity is neither
# delivered nor relayed. Defaults %d, "%s", %d and "%s".
fan_out = %d
gossip_interval = "%s"
ttl = %d
clock_disparity = "%s"
# Largest gossip message. Default %d.
max_message_bytes = %d
# Find peers through the Kademlia DHT of the chain. Default true.
dht = %t
# Region label for emulated wide-area latency (testnets): one of %s, or
# empty for none. Default "".
region = %s

[mempool]
# Sender shards, each with its own lock (shard = first address byte mod
# shards). Default %d.
shards = %d
# Transactions and bytes of encodings held at most; when full, the cheapest
# by effective gas price go first. Defaults %d and %d.
max_txs = %d
max_bytes = %d
# How many times its fair share (limit / shards) one shard may hold.
# Default %g.
shard_share = %g
# Per sender: executable transactions, and transactions waiting behind a
# nonce gap. Defaults %d and %d.
max_pending_per_sender = %d
max_queued_per_sender = %d
# How long a transaction may wait behind a nonce gap. Default "%s".
queue_lifetime = "%s"
# Fee cap and tip increase a replacement needs, in percent. Default %d.
price_bump_percent = %d

[rpc]
# Serve Ethereum JSON-RPC over HTTP and WebSocket. Default true.
enabled = %t
# Default "%s" (local only; expose it deliberately).
listen_addr = %s
# Largest request body or WebSocket message, most calls in one batch, and
# largest answer. Defaults %d, %d and %d.
max_body_bytes = %d
max_batch = %d
max_response_bytes = %d
# Calls per second one client address may make, with bursts up to
# rate_burst; 0 turns the limit off. Defaults %g and %d.
rate_limit = %g
rate_burst = %d
# Longest time for one request or batch. Default "%s".
request_timeout = "%s"
# Open WebSocket connections, and subscriptions on one. Defaults %d and %d.
max_ws_conns = %d
max_subscriptions = %d
# Origins browsers may call from, such as "http://localhost:3000", or "*";
# empty keeps CORS off. Default [].
cors_origins = %s

[log]
# debug, info, warn or error. Default "info".
level = %s
# text or json. Default "text".
format = %s

[metrics]
# Serve Prometheus metrics at http://<listen_addr>/metrics. Default true.
enabled = %t
# Default "%s" (local only).
listen_addr = %s
# Also serve the Go profiler at /debug/pprof/ on that address. Default false.
pprof = %t

[dev]
# Transfers per second generated among the deterministic dev accounts,
# for demonstrations and tests; 0 turns it off. Default 0.
traffic = %d
`,
		q(c.Moniker),
		q(c.Chain.GenesisFile), q(c.Chain.DataDir), DefaultConfig().Chain.AccountCacheSize, c.Chain.AccountCacheSize, c.Chain.CacheMB,
		q(c.Validator.KeyFile), q(c.Validator.PassphraseFile),
		q(c.P2P.NodeKeyFile), c.P2P.Enabled, tomlStrings(dp.ListenAddrs), tomlStrings(c.P2P.ListenAddrs),
		tomlStrings(c.P2P.Bootstrap), tomlStrings(c.P2P.Persistent),
		dp.LowWater, dp.HighWater, c.P2P.LowWater, c.P2P.HighWater,
		dp.FanOut, dp.GossipInterval.Duration, dp.TTL, dp.ClockDisparity.Duration,
		c.P2P.FanOut, c.P2P.GossipInterval.Duration, c.P2P.TTL, c.P2P.ClockDisparity.Duration,
		dp.MaxMessageBytes, c.P2P.MaxMessageBytes, c.P2P.DHT, strings.Join(RegionNames(), ", "), q(c.P2P.Region),
		dm.Shards, c.Mempool.Shards, dm.MaxTxs, dm.MaxBytes, c.Mempool.MaxTxs, c.Mempool.MaxBytes,
		dm.ShardShare, c.Mempool.ShardShare, dm.MaxPendingPerSender, dm.MaxQueuedPerSender,
		c.Mempool.MaxPendingPerSender, c.Mempool.MaxQueuedPerSender, dm.QueueLifetime, c.Mempool.QueueLifetime.Duration,
		dm.PriceBumpPercent, c.Mempool.PriceBumpPercent,
		c.RPC.Enabled, dr.ListenAddr, q(c.RPC.ListenAddr), dr.MaxBodyBytes, dr.MaxBatch, dr.MaxResponseBytes, c.RPC.MaxBodyBytes, c.RPC.MaxBatch, c.RPC.MaxResponseBytes,
		dr.RateLimit, dr.RateBurst, c.RPC.RateLimit, c.RPC.RateBurst, dr.RequestTimeout, c.RPC.RequestTimeout.Duration,
		dr.MaxWSConns, dr.MaxSubscriptions, c.RPC.MaxWSConns, c.RPC.MaxSubscriptions, tomlStrings(c.RPC.CORSOrigins),
		q(c.Log.Level), q(c.Log.Format),
		c.Metrics.Enabled, DefaultMetricsAddr, q(c.Metrics.ListenAddr), c.Metrics.Pprof,
		c.Dev.Traffic)
	return []byte(b.String())
}
