package explorer

import (
	"os"
	"path/filepath"
	"reflect"
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
	c.WriteTimeout = c.QueryTimeout
	err := c.Validate()
	for _, want := range []string{"rpc", "redis", "fetch_workers", "leaderboard_refresh", "fetch_blocks", "write_timeout"} {
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
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":  {`rcp = "x"`, "explorer.toml:1:1: rcp: unknown key"},
		"bad duration": {"\npoll_interval = \"soon\"", `explorer.toml:2:17: poll_interval: wrong type: want a duration such as "10m" or "1m30s", not "soon"`},
		"wrong type":   {`batch_txs = "many"`, "explorer.toml:1:13: batch_txs: wrong type"},
		"key twice":    {"listen = \"a:1\"\nlisten = \"b:2\"", "explorer.toml:2:1: listen: defined twice"},
		"bad toml":     {`rpc = `, "explorer.toml:1:"},
	} {
		os.WriteFile(path, []byte(tc.body), 0o600)
		c := DefaultConfig()
		err := LoadConfigFile(path, &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
		if !reflect.DeepEqual(c, DefaultConfig()) {
			t.Errorf("%s: a failed load changed the config: %+v", name, c)
		}
	}
}

// TestLoadConfigFileEveryKey sets every key of the file and reads it.
func TestLoadConfigFileEveryKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "explorer.toml")
	os.WriteFile(path, []byte(`rpc = "http://n:1"
ws = "ws://n:2"
postgres = "dbname=x"
replicas = ["dbname=r"]
redis = "redis://r:3/0"
listen = "127.0.0.1:0"
pool_size = 3
replica_pool_size = 4
max_replica_lag = "1m"
health_interval = "3s"
raw_blocks = false
fetch_workers = 2
fetch_blocks = 8
batch_blocks = 10
batch_txs = 20
poll_interval = "250ms"
retry_interval = "4s"
reputation_window = 100
leaderboard_refresh = "1h30m"
warm_interval = "2h"
local_ttl = "30s"
local_entries = 5
redis_timeout = "50ms"
query_timeout = "6s"
write_timeout = "7s"
`), 0o600)
	c := DefaultConfig()
	if err := LoadConfigFile(path, &c); err != nil {
		t.Fatal(err)
	}
	want := Config{
		RPC: "http://n:1", WS: "ws://n:2", Postgres: "dbname=x", Replicas: []string{"dbname=r"}, Redis: "redis://r:3/0",
		Listen: "127.0.0.1:0", PoolSize: 3, ReplicaPoolSize: 4, MaxReplicaLag: time.Minute, HealthInterval: 3 * time.Second,
		RawBlocks: false, FetchWorkers: 2, FetchBlocks: 8, BatchBlocks: 10, BatchTxs: 20, PollInterval: 250 * time.Millisecond,
		RetryInterval: 4 * time.Second, ReputationWindow: 100, LeaderboardRefresh: 90 * time.Minute, WarmInterval: 2 * time.Hour,
		LocalTTL: 30 * time.Second, LocalEntries: 5, RedisTimeout: 50 * time.Millisecond, QueryTimeout: 6 * time.Second,
		WriteTimeout: 7 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("loaded %+v\nwant   %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
