package node

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/internal/config"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
	"github.com/bizra/node0/rpc"
)

// Config is the node configuration: the TOML file in the home directory,
// then command-line flags over it. Relative paths are relative to Home.
//
// It is composed of the packages' own configs: each package's Config
// carries its TOML keys, docs, default and Validate, and the node adds the
// settings that are its own decisions. A setting is added in one place, the
// struct that owns it, with its toml and doc tags; LoadConfig,
// EncodeConfig and `bizra config show` follow.
type Config struct {
	// Home is the node's directory. It is not read from the file.
	Home string `toml:"-"`

	Moniker string `toml:"moniker" doc:"Name of this node in logs and metrics."`
	// ReadyMaxLag is how many blocks behind the best height its peers
	// report the node may be and still count as caught up: see CaughtUp.
	ReadyMaxLag uint64 `toml:"ready_max_lag" doc:"Blocks this node may be behind the best height its peers report and still count as caught up (eth_syncing, bizra_status, readiness)."`

	Chain     ChainConfig     `toml:"chain" doc:"The chain: genesis, store and caches."`
	Validator ValidatorConfig `toml:"validator" doc:"The validator's key."`
	P2P       P2PConfig       `toml:"p2p" doc:"Peer-to-peer networking over libp2p: identity, addresses, peers, gossip."`
	Mempool   mempool.Config  `toml:"mempool" doc:"The transaction pool, sharded by sender."`
	RPC       RPCConfig       `toml:"rpc" doc:"Ethereum JSON-RPC over HTTP and WebSocket."`
	Log       LogConfig       `toml:"log" doc:"Logging to standard error."`
	Metrics   MetricsConfig   `toml:"metrics" doc:"The Prometheus endpoint."`
	Dev       DevConfig       `toml:"dev" doc:"Development aids that a production node leaves off."`
}

// ChainConfig locates the genesis and the store, and holds chain.Config.
type ChainConfig struct {
	GenesisFile string `toml:"genesis_file" doc:"Genesis file; its hash identifies the chain."`
	DataDir     string `toml:"data_dir" doc:"Pebble database directory."`
	chain.Config
	// CacheMB is Pebble's block cache in MiB.
	CacheMB int `toml:"cache_mb" doc:"Pebble block cache in MiB."`
}

// ValidatorConfig locates the validator's BLS key.
type ValidatorConfig struct {
	KeyFile string `toml:"key_file" doc:"BLS12-381 key that signs this validator's votes; mode 0600."`
	// PassphraseFile holds the passphrase of an encrypted key file; empty
	// for an unencrypted key.
	PassphraseFile string `toml:"passphrase_file" doc:"File holding the passphrase of an encrypted key file; empty when the key is not encrypted."`
}

// P2PConfig is the [p2p] section: the node's identity key and switch around
// p2p.Config, whose keys sit directly in the section.
type P2PConfig struct {
	NodeKeyFile string `toml:"node_key_file" doc:"Ed25519 key that identifies this node to its peers; mode 0600."`
	// Enabled runs the libp2p host. A chain with more than one validator
	// needs it (or an in-process transport).
	Enabled bool `toml:"enabled" doc:"Run the libp2p host. A chain with more than one validator needs it; bizra devnet turns it off."`
	p2p.Config
	// Region was this node's label for emulated wide-area latency.
	// Deprecated: it is read (homes written before keep loading) and
	// ignored; a local testnet's regions file (RegionsFileName) gives the
	// region of every validator now.
	Region string `toml:"region,deprecated" doc:"Ignored: a local testnet's regions.json sets emulated latency."`
}

// RPCConfig is the [rpc] section: a switch around rpc.Config.
type RPCConfig struct {
	Enabled bool `toml:"enabled" doc:"Serve Ethereum JSON-RPC over HTTP and WebSocket."`
	rpc.Config
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `toml:"level" doc:"debug, info, warn or error."`
	Format string `toml:"format" doc:"text or json."`
}

// MetricsConfig controls the Prometheus endpoint.
type MetricsConfig struct {
	Enabled    bool   `toml:"enabled" doc:"Serve Prometheus metrics at http://<listen_addr>/metrics."`
	ListenAddr string `toml:"listen_addr" doc:"Address of the metrics endpoint, host:port (port 0 picks a free one); the default is local only."`
	// Pprof also serves the Go profiler at /debug/pprof/ on the metrics
	// address.
	Pprof bool `toml:"pprof" doc:"Also serve the Go profiler at /debug/pprof/ on that address."`
}

// DevConfig holds development aids that a production node leaves off.
type DevConfig struct {
	// Traffic is the number of transfers per second the node generates
	// among the deterministic dev accounts; 0 turns it off.
	Traffic int `toml:"traffic" doc:"Transfers per second generated among the deterministic dev accounts, for demonstrations and tests; 0 turns it off."`
}

// Node decisions over the packages' defaults, and the node's own limits.
const (
	// DefaultP2PPort is where a node listens for peers, TCP and QUIC, on
	// every interface (the p2p library's default is loopback, ports chosen
	// by the system).
	DefaultP2PPort = 9000
	// DefaultMetricsAddr is where Prometheus metrics are served by default.
	DefaultMetricsAddr = "127.0.0.1:6060"
	// DefaultReadyMaxLag is ready_max_lag's default, in blocks.
	DefaultReadyMaxLag = 2
	// MaxReadyMaxLag bounds ready_max_lag: a node further behind than
	// that is syncing, whatever the setting says.
	MaxReadyMaxLag = 10_000
	// MaxDevTraffic bounds the dev traffic generator.
	MaxDevTraffic = 100_000
)

// DefaultConfig returns the documented defaults: the packages' own, with a
// node listening for peers on 0.0.0.0 port DefaultP2PPort.
func DefaultConfig() Config {
	p := p2p.DefaultConfig()
	p.ListenAddrs = []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultP2PPort), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultP2PPort)}
	return Config{
		Moniker:     "node0",
		ReadyMaxLag: DefaultReadyMaxLag,
		Chain: ChainConfig{
			GenesisFile: "genesis.json",
			DataDir:     "data",
			Config:      chain.DefaultConfig(),
			CacheMB:     256,
		},
		Validator: ValidatorConfig{KeyFile: "validator_key.json"},
		P2P:       P2PConfig{NodeKeyFile: "node_key.json", Enabled: true, Config: p},
		Mempool:   mempool.DefaultConfig(),
		RPC:       RPCConfig{Enabled: true, Config: rpc.DefaultConfig()},
		Log:       LogConfig{Level: "info", Format: "text"},
		Metrics:   MetricsConfig{Enabled: true, ListenAddr: DefaultMetricsAddr},
	}
}

// CaughtUp reports whether a node at height head counts as caught up with
// peers whose best reported height is best: it is at most ReadyMaxLag
// blocks behind.
func (c *Config) CaughtUp(head, best uint64) bool {
	return best <= head || best-head <= c.ReadyMaxLag
}

// Validate reports every problem at once, each setting's problem a
// *config.FieldError under its full key ("p2p.fan_out"), all wrapped in
// ErrInvalidConfig; it never changes the config. The packages' settings are
// checked by the packages' own Validate: p2p's only when p2p is enabled,
// rpc's only when rpc is enabled.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Home) == "" {
		errs = append(errs, errors.New("home directory is empty"))
	}
	if strings.TrimSpace(c.Moniker) == "" {
		errs = append(errs, config.Errorf("moniker", "must not be empty"))
	}
	if c.ReadyMaxLag > MaxReadyMaxLag {
		errs = append(errs, config.Errorf("ready_max_lag", "must be at most %d blocks, not %d", MaxReadyMaxLag, c.ReadyMaxLag))
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"chain", c.Chain.validate()},
		{"validator", c.Validator.validate()},
		{"p2p", c.P2P.validate()},
		{"mempool", c.Mempool.Validate()},
		{"rpc", c.RPC.validate()},
		{"log", c.Log.validate()},
		{"metrics", c.Metrics.validate()},
		{"dev", c.Dev.validate()},
	} {
		errs = append(errs, config.Prefix(s.name, s.err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	return nil
}

// notEmpty is the field error of a path or name left empty.
func notEmpty(key, v string) error {
	if strings.TrimSpace(v) == "" {
		return config.Errorf(key, "must not be empty")
	}
	return nil
}

func (c *ChainConfig) validate() error {
	var errs []error
	errs = append(errs, notEmpty("genesis_file", c.GenesisFile), notEmpty("data_dir", c.DataDir), c.Config.Validate())
	if c.CacheMB < 8 || c.CacheMB > 1<<20 {
		errs = append(errs, config.Errorf("cache_mb", "must be between 8 and 1048576, not %d", c.CacheMB))
	}
	return errors.Join(errs...)
}

func (c *ValidatorConfig) validate() error { return notEmpty("key_file", c.KeyFile) }

func (c *P2PConfig) validate() error {
	if !c.Enabled {
		return notEmpty("node_key_file", c.NodeKeyFile)
	}
	return errors.Join(notEmpty("node_key_file", c.NodeKeyFile), c.Config.Validate())
}

func (c *RPCConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	return c.Config.Validate()
}

func (c *LogConfig) validate() error {
	var errs []error
	switch c.Level {
	case "debug", "info", "warn", "error":
	case "":
		errs = append(errs, config.Errorf("level", "must not be empty"))
	default:
		errs = append(errs, config.Errorf("level", "%q must be one of debug, info, warn, error", c.Level))
	}
	switch c.Format {
	case "text", "json":
	case "":
		errs = append(errs, config.Errorf("format", "must not be empty"))
	default:
		errs = append(errs, config.Errorf("format", "%q must be text or json", c.Format))
	}
	return errors.Join(errs...)
}

func (c *MetricsConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	if strings.TrimSpace(c.ListenAddr) == "" {
		return config.Errorf("listen_addr", "must not be empty when metrics are enabled")
	}
	if err := config.CheckListenAddr(c.ListenAddr); err != nil {
		return config.Errorf("listen_addr", "%v", err)
	}
	return nil
}

func (c *DevConfig) validate() error {
	if c.Traffic < 0 || c.Traffic > MaxDevTraffic {
		return config.Errorf("traffic", "must be between 0 and %d transfers per second, not %d", MaxDevTraffic, c.Traffic)
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

// LoadConfig reads home/config.toml strictly: an unknown key, a wrong type,
// an integer out of range or a key set twice is an error naming the file,
// line and key, wrapped in ErrInvalidConfig. Keys absent from the file keep
// their defaults. It does not validate, so that flags can be applied first.
func LoadConfig(home string) (Config, error) {
	cfg := DefaultConfig()
	cfg.Home = home
	if err := config.DecodeFile(filepath.Join(home, ConfigFileName), &cfg); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return cfg, fmt.Errorf("node: read config: %w", err)
		}
		return cfg, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	return cfg, nil
}

const configHeader = `# BIZRA node configuration.
# Relative paths are relative to the home directory that holds this file.
# Every key may be left out; the comment above it gives its default.
# Command-line flags override the values here.

`

// EncodeConfig renders c as a commented TOML file: every setting with its
// doc and its default (DefaultConfig). LoadConfig reads it back as c.
func EncodeConfig(c *Config) []byte {
	body, err := config.Encode(c, DefaultConfig())
	if err != nil {
		// Config's tags are fixed at compile time and TestEncodeConfigGolden
		// encodes every field: an error here is a broken invariant.
		panic(err)
	}
	return append([]byte(configHeader), body...)
}
