package node

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/internal/config"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
	"github.com/bizra/node0/rpc"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testnetLikeConfig is a config with a non-default value in nearly every
// section: what testdata/config-legacy-testnet.toml was written from by
// the encoder that came before internal/config.
func testnetLikeConfig() Config {
	c := DefaultConfig()
	c.Moniker = "node2"
	c.Chain.AccountCacheSize = 4096
	c.Chain.CacheMB = 64
	c.Validator.PassphraseFile = "/etc/bizra/pass"
	c.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/9002", "/ip4/127.0.0.1/udp/9002/quic-v1"}
	c.P2P.Persistent = []string{
		"/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
		"/ip4/127.0.0.1/tcp/9001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK",
	}
	c.P2P.LowWater, c.P2P.HighWater = 8, 24
	c.P2P.FanOut = 4
	c.P2P.GossipInterval = 250 * time.Millisecond
	c.P2P.TTL = 10
	c.P2P.ClockDisparity = time.Second
	c.P2P.MaxMessageBytes = 8 << 20
	c.P2P.DHT = false
	c.P2P.Region = "eu-west"
	c.Mempool.Shards = 32
	c.Mempool.MaxTxs = 100000
	c.Mempool.MaxBytes = 64 << 20
	c.Mempool.ShardShare = 1.5
	c.Mempool.MaxQueuedPerSender = 16
	c.Mempool.QueueLifetime = 90 * time.Second
	c.Mempool.PriceBumpPercent = 25
	c.RPC.ListenAddr = "127.0.0.1:8547"
	c.RPC.MaxBatch = 50
	c.RPC.RateLimit = 250.5
	c.RPC.RateBurst = 500
	c.RPC.RequestTimeout = 30 * time.Second
	c.RPC.MaxWSConns = 10
	c.RPC.CORSOrigins = []string{"http://localhost:3000", "*"}
	c.Log.Level = "debug"
	c.Log.Format = "json"
	c.Metrics.ListenAddr = "127.0.0.1:6062"
	c.Metrics.Pprof = true
	c.Dev.Traffic = 50
	return c
}

// loadFile writes body as a home's config file and loads it.
func loadFile(t *testing.T, body []byte) (Config, string, error) {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ConfigFileName), body, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	return c, home, err
}

// TestLegacyConfigFilesLoad reads files written by the encoder of the
// previous releases: they must load, unchanged, into the config they were
// written from.
func TestLegacyConfigFilesLoad(t *testing.T) {
	// The old default file writes the rate limit of its day, which it
	// keeps; the settings it predates take today's defaults.
	legacyDefault := DefaultConfig()
	legacyDefault.RPC.RateLimit, legacyDefault.RPC.RateBurst = 100000, 200000
	for file, want := range map[string]Config{
		"config-legacy-default.toml": legacyDefault,
		"config-legacy-testnet.toml": testnetLikeConfig(),
	} {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			got, home, err := loadFile(t, body)
			if err != nil {
				t.Fatal(err)
			}
			want.Home = home
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("loaded %+v\nwant   %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEncodeConfigGolden(t *testing.T) {
	d := DefaultConfig()
	got := EncodeConfig(&d)
	golden := filepath.Join("testdata", "config.golden.toml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("EncodeConfig(DefaultConfig()) differs from %s (go test ./node -run TestEncodeConfigGolden -update accepts it):\n%s", golden, got)
	}
}

func TestEncodeConfigRoundTrip(t *testing.T) {
	devnet := DefaultConfig()
	devnet.P2P.Enabled = false
	devnet.RPC.Enabled = false
	devnet.Metrics.Enabled = false
	devnet.ReadyMaxLag = 0
	testnet := testnetLikeConfig()
	testnet.P2P.Region = "" // deprecated: read, never written
	for name, c := range map[string]Config{"defaults": DefaultConfig(), "testnet-like": testnet, "switches off": devnet} {
		t.Run(name, func(t *testing.T) {
			got, home, err := loadFile(t, EncodeConfig(&c))
			if err != nil {
				t.Fatal(err)
			}
			c.Home = home
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("loaded %+v\nwant   %+v", got, c)
			}
		})
	}
}

// TestPackageRulesUnderFullKey sets one bad setting of each package in a
// config file: node's Validate reports the package's own error under the
// full key, with the message the package's Validate gives the relative key.
func TestPackageRulesUnderFullKey(t *testing.T) {
	cases := []struct {
		file     string
		key      string
		rel      string
		pkgError func() error
	}{
		{"[p2p]\nfan_out = 1\n", "p2p.fan_out", "fan_out", func() error {
			c := p2p.DefaultConfig()
			c.FanOut = 1
			return c.Validate()
		}},
		{"[mempool]\nshards = 0\n", "mempool.shards", "shards", func() error {
			c := mempool.DefaultConfig()
			c.Shards = 0
			return c.Validate()
		}},
		{"[rpc]\nmax_batch = 0\n", "rpc.max_batch", "max_batch", func() error {
			c := rpc.DefaultConfig()
			c.MaxBatch = 0
			return c.Validate()
		}},
		{"[chain]\naccount_cache_size = 1\n", "chain.account_cache_size", "account_cache_size", func() error {
			c := chain.DefaultConfig()
			c.AccountCacheSize = 1
			return c.Validate()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			c, _, err := loadFile(t, []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("field error %+v in %v, want key %s", fe, err, tc.key)
			}
			pkg := config.FieldErrors(tc.pkgError())
			if len(pkg) != 1 || pkg[0].Key != tc.rel {
				t.Fatalf("the package reports %+v, want one error for %s", pkg, tc.rel)
			}
			if fe.Err.Error() != pkg[0].Err.Error() {
				t.Fatalf("node says %q, the package %q", fe.Err, pkg[0].Err)
			}
			if all := config.FieldErrors(err); len(all) != 1 {
				t.Fatalf("%d field errors, want 1: %v", len(all), err)
			}
			if !strings.Contains(err.Error(), tc.key+": "+pkg[0].Err.Error()) {
				t.Fatalf("message %q does not say %s: …", err, tc.key)
			}
		})
	}
}

func TestValidateSkipsWhatIsOff(t *testing.T) {
	c := DefaultConfig()
	c.Home = t.TempDir()
	c.P2P.FanOut, c.P2P.ListenAddrs = 1, nil
	c.RPC.MaxBatch, c.RPC.ListenAddr = 0, "nowhere"
	c.Metrics.ListenAddr = ""
	c.P2P.Enabled, c.RPC.Enabled, c.Metrics.Enabled = false, false, false
	if err := c.Validate(); err != nil {
		t.Fatalf("settings of disabled services were checked: %v", err)
	}
	c.P2P.Enabled, c.RPC.Enabled, c.Metrics.Enabled = true, true, true
	var keys []string
	for _, fe := range config.FieldErrors(c.Validate()) {
		keys = append(keys, fe.Key)
	}
	want := []string{"p2p.listen_addrs", "p2p.fan_out", "rpc.listen_addr", "rpc.max_batch", "metrics.listen_addr"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func TestLoadConfigPartialAndStrict(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		wantErr []string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "missing keys keep defaults",
			file: "moniker = \"alpha\"\n[log]\nformat = \"json\"\n",
			check: func(t *testing.T, c Config) {
				if c.Moniker != "alpha" || c.Log.Format != "json" || c.Log.Level != "info" || c.Metrics.ListenAddr != DefaultMetricsAddr || c.ReadyMaxLag != DefaultReadyMaxLag {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "embedded keys sit in their section",
			file: "ready_max_lag = 5\n[p2p]\nfan_out = 8\nlow_water = 10\n[rpc]\nmax_batch = 7\n[chain]\naccount_cache_size = 2048\n",
			check: func(t *testing.T, c Config) {
				if c.ReadyMaxLag != 5 || c.P2P.FanOut != 8 || c.P2P.LowWater != 10 || c.RPC.MaxBatch != 7 || c.Chain.AccountCacheSize != 2048 {
					t.Fatalf("got %+v", c)
				}
				if c.P2P.SyncBatch != p2p.DefaultConfig().SyncBatch || c.P2P.HighWater != 96 {
					t.Fatalf("defaults lost: %+v", c.P2P)
				}
			},
		},
		{name: "unknown key", file: "[log]\ncolour = \"blue\"\n", wantErr: []string{"config.toml:2:1: log.colour: unknown key"}},
		{name: "unknown table", file: "[consensus]\nx = 1\n", wantErr: []string{"config.toml:1:2: consensus: unknown key"}},
		{name: "not a key of the file", file: "[p2p]\nsync_batch = 8\n", wantErr: []string{"config.toml:2:1: p2p.sync_batch: unknown key"}},
		{name: "no gossip table", file: "[p2p.gossip]\nfan_out = 8\n", wantErr: []string{"config.toml:1:6: p2p.gossip: unknown key"}},
		{name: "wrong type", file: "\n[mempool]\nmax_txs = \"many\"\n", wantErr: []string{"config.toml:3:11: mempool.max_txs: wrong type: want an integer, not a string"}},
		{name: "bad duration", file: "[mempool]\nqueue_lifetime = \"forever\"\n", wantErr: []string{"config.toml:2:18: mempool.queue_lifetime:", `"forever"`}},
		{name: "negative lag", file: "ready_max_lag = -1\n", wantErr: []string{"config.toml:1:17: ready_max_lag: out of range"}},
		{name: "key twice", file: "[rpc]\nmax_batch = 1\nmax_batch = 2\n", wantErr: []string{"config.toml:3:1: rpc.max_batch: defined twice"}},
		{name: "old txpool table", file: "[txpool]\nmax_txs = 5\n", wantErr: []string{"txpool: unknown key"}},
		{name: "not toml", file: "moniker = \n", wantErr: []string{"config.toml:1:"}},
		{name: "every problem", file: "colour = 1\n[rpc]\nmax_batch = \"x\"\n", wantErr: []string{"config.toml:1:1: colour", "config.toml:3:13: rpc.max_batch"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, home, err := loadFile(t, []byte(tc.file))
			if tc.wantErr != nil {
				var de *config.DecodeError
				if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &de) {
					t.Fatalf("got %v, want an ErrInvalidConfig with a *config.DecodeError", err)
				}
				if de.File != filepath.Join(home, ConfigFileName) {
					t.Fatalf("error names file %q", de.File)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("%v\ndoes not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := DefaultConfig()
	c.Home = ""
	c.Moniker = " "
	c.ReadyMaxLag = MaxReadyMaxLag + 1
	c.Chain.DataDir = ""
	c.Chain.AccountCacheSize = 3
	c.Chain.CacheMB = 1
	c.Validator.KeyFile = ""
	c.P2P.NodeKeyFile = ""
	c.P2P.LowWater = 96
	c.Mempool.MaxTxs = 0
	c.Mempool.QueueLifetime = 0
	c.RPC.CORSOrigins = []string{"localhost"}
	c.Log.Level = "loud"
	c.Log.Format = "xml"
	c.Metrics.ListenAddr = "localhost"
	c.Dev.Traffic = -1
	err := c.Validate()
	// The packages' Validate report field errors only (their constructors
	// add their sentinels); node's is the one sentinel here.
	if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, p2p.ErrInvalidConfig) || errors.Is(err, mempool.ErrInvalidConfig) || errors.Is(err, rpc.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	var keys []string
	for _, fe := range config.FieldErrors(err) {
		keys = append(keys, fe.Key)
	}
	want := []string{
		"moniker", "ready_max_lag", "chain.data_dir", "chain.account_cache_size", "chain.cache_mb", "validator.key_file",
		"p2p.node_key_file", "p2p.high_water", "mempool.max_txs", "mempool.queue_lifetime", "rpc.cors_origins",
		"log.level", "log.format", "metrics.listen_addr", "dev.traffic",
	}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q\nwant %q", keys, want)
	}
	for _, line := range []string{
		"home directory is empty",
		"chain.account_cache_size: must be at least 1024, not 3",
		"p2p.high_water: must be above low_water 96, not 96",
		"mempool.queue_lifetime: must be at least 1s, not 0s",
		`log.level: "loud" must be one of debug, info, warn, error`,
		"dev.traffic: must be between 0 and 100000 transfers per second, not -1",
	} {
		if !strings.Contains(err.Error(), line) {
			t.Errorf("error does not say %q:\n%v", line, err)
		}
	}
	// Validate never rewrites what it checks.
	if c.Log.Level != "loud" || c.Chain.CacheMB != 1 || c.P2P.LowWater != 96 {
		t.Fatal("Validate changed the config")
	}
}

func TestCaughtUp(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		lag, head, best uint64
		want            bool
	}{
		{2, 10, 10, true}, {2, 10, 12, true}, {2, 10, 13, false}, {2, 12, 10, true},
		{0, 10, 10, true}, {0, 10, 11, false}, {2, 0, ^uint64(0), false}, {MaxReadyMaxLag, 0, MaxReadyMaxLag, true},
	} {
		c.ReadyMaxLag = tc.lag
		if got := c.CaughtUp(tc.head, tc.best); got != tc.want {
			t.Errorf("lag %d, head %d, best %d: %v, want %v", tc.lag, tc.head, tc.best, got, tc.want)
		}
	}
}
