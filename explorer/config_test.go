package explorer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.RPC, c.Redis, c.FetchWorkers, c.LeaderboardRefresh, c.FetchBlocks = "ftp://x", "http://r", 0, 0, 257
	err := c.Validate()
	for _, want := range []string{"rpc", "redis", "fetch_workers", "leaderboard_refresh", "fetch_blocks"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "explorer.toml")
	os.WriteFile(path, []byte(`rpc = "http://127.0.0.1:9545"
replicas = ["postgres://r1/db", "postgres://r2/db"]
leaderboard_refresh = "90s"
batch_txs = 1000
`), 0o600)
	c := DefaultConfig()
	if err := LoadConfigFile(path, &c); err != nil {
		t.Fatal(err)
	}
	if c.RPC != "http://127.0.0.1:9545" || len(c.Replicas) != 2 || c.LeaderboardRefresh != 90*time.Second || c.BatchTxs != 1000 || c.Listen != DefaultConfig().Listen {
		t.Fatalf("loaded %+v", c)
	}
	for name, body := range map[string]string{
		"unknown key":  `rcp = "x"`,
		"bad duration": `poll_interval = "soon"`,
		"bad toml":     `rpc = `,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		c := DefaultConfig()
		if err := LoadConfigFile(path, &c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
