package node

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEncodedDefaultsLoadBackAsDefaults(t *testing.T) {
	home := t.TempDir()
	d := DefaultConfig()
	d.Home = home
	if err := os.WriteFile(filepath.Join(home, ConfigFileName), EncodeConfig(&d), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("loaded %+v\nwant   %+v", got, d)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestLoadConfigPartialAndStrict(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "missing keys keep defaults",
			file: "moniker = \"alpha\"\n[log]\nformat = \"json\"\n",
			check: func(t *testing.T, c Config) {
				if c.Moniker != "alpha" || c.Log.Format != "json" || c.Log.Level != "info" || c.Metrics.ListenAddr != DefaultMetricsAddr {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{name: "unknown key", file: "[log]\ncolour = \"blue\"\n", wantErr: "colour"},
		{name: "unknown table", file: "[consensus]\nx = 1\n", wantErr: "consensus"},
		{name: "wrong type", file: "[mempool]\nmax_txs = \"many\"\n", wantErr: "max_txs"},
		{name: "bad duration", file: "[mempool]\nqueue_lifetime = \"forever\"\n", wantErr: "queue_lifetime"},
		{name: "old txpool table", file: "[txpool]\nmax_txs = 5\n", wantErr: "txpool"},
		{name: "not toml", file: "moniker = \n", wantErr: "config.toml:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, ConfigFileName), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(home)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an ErrInvalidConfig naming %q", err, tc.wantErr)
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
	c.Chain.DataDir = ""
	c.Chain.AccountCacheSize = 3
	c.Chain.CacheMB = 1
	c.Mempool.MaxTxs = 0
	c.Mempool.QueueLifetime.Duration = 0
	c.Log.Level = "loud"
	c.Log.Format = "xml"
	c.Metrics.ListenAddr = "localhost"
	c.Dev.Traffic = -1
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{
		"home directory is empty", "moniker", "chain.data_dir", "account_cache_size 3", "cache_mb 1",
		"mempool.max_txs 0", "mempool.queue_lifetime 0s", `log.level "loud"`, `log.format "xml"`, "metrics.listen_addr", "dev.traffic -1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	// Validate never rewrites what it checks.
	if c.Log.Level != "loud" || c.Chain.CacheMB != 1 {
		t.Fatal("Validate changed the config")
	}
}

func TestListenAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:0": true, ":6060": true, "localhost:1": true,
		"6060": false, "127.0.0.1:x": false, "127.0.0.1:70000": false, "example.org:80": false,
	} {
		if err := checkListenAddr(addr); (err == nil) != ok {
			t.Errorf("%s: err=%v, want ok=%v", addr, err, ok)
		}
	}
}
