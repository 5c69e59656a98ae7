package explorer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/bizra/node0/node"
	"github.com/bizra/node0/rpc"
)

// The tests use the real PostgreSQL primary and replica and the real Redis
// that scripts/explorer-services.sh starts, found through the standard
// variables: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, REDIS_URL, and
// BIZRA_PG_REPLICA (a connection string of a streaming replica of that
// primary). Without them a test skips, unless CI is set: then it fails.

func needEnv(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if os.Getenv(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s not set (start the services with scripts/explorer-services.sh start and export what it prints)", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// testDB creates a fresh database on the primary and returns connection
// strings for it on the primary and on the replica (empty without one). It
// is dropped when the test ends.
func testDB(t testing.TB) (primary, replica string) {
	t.Helper()
	needEnv(t, "PGHOST")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, "")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "explorer_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), "")
		if err != nil {
			t.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	primary = "dbname=" + name
	if r := os.Getenv("BIZRA_PG_REPLICA"); r != "" {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatalf("BIZRA_PG_REPLICA: %v", err)
		}
		u.Path = "/" + name
		replica = u.String()
		// The new database reaches the standby with the WAL; wait for it.
		waitFor(t, 10*time.Second, "the test database on the replica", func() bool {
			c, err := pgx.Connect(ctx, replica)
			if err != nil {
				return false
			}
			c.Close(ctx)
			return true
		})
	}
	return primary, replica
}

// testRedis returns REDIS_URL after emptying its database.
func testRedis(t testing.TB) string {
	t.Helper()
	needEnv(t, "REDIS_URL")
	u := os.Getenv("REDIS_URL")
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return u
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testNode is a devnet node run in this process, restartable on the same
// home and address.
type testNode struct {
	t      testing.TB
	home   string
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startTestNode(t testing.TB, blockTime time.Duration) *testNode {
	t.Helper()
	n := &testNode{t: t, home: filepath.Join(t.TempDir(), "home"), addr: freeAddr(t)}
	cfg := node.DefaultConfig()
	cfg.Metrics.Enabled = false
	cfg.P2P.Enabled = false
	cfg.RPC.ListenAddr = n.addr
	if _, err := node.Init(node.InitOptions{Home: n.home, BlockTime: blockTime, DevAccounts: 10, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) url() string { return "http://" + n.addr }

func (n *testNode) start() {
	n.t.Helper()
	c, err := node.LoadConfig(n.home)
	if err != nil {
		n.t.Fatal(err)
	}
	nd, err := node.New(c, node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- nd.Run(ctx) }()
	waitFor(n.t, 10*time.Second, "the node's JSON-RPC", func() bool {
		var h hexutil.Uint64
		return rpc.NewClient(n.url(), 1).Call(context.Background(), &h, "eth_blockNumber") == nil
	})
}

func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		n.t.Error(err)
	}
	n.cancel = nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig is a configuration for tests: fast polling and refreshes.
func testConfig(rpcURL, pg, replica, redisURL string) Config {
	cfg := DefaultConfig()
	cfg.RPC, cfg.Postgres, cfg.Redis = rpcURL, pg, redisURL
	if replica != "" {
		cfg.Replicas = []string{replica}
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.PollInterval = 100 * time.Millisecond
	cfg.RetryInterval = 100 * time.Millisecond
	cfg.HealthInterval = 200 * time.Millisecond
	cfg.LeaderboardRefresh = time.Second
	cfg.PoolSize, cfg.ReplicaPoolSize = 4, 4
	return cfg
}

// runningExplorer is an explorer run in this process.
type runningExplorer struct {
	*Explorer
	cancel context.CancelFunc
	done   chan error
}

func startExplorer(t testing.TB, cfg Config) *runningExplorer {
	t.Helper()
	e, err := Open(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningExplorer{Explorer: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runningExplorer) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("explorer: %v", err)
	}
	r.cancel = nil
}

func (r *runningExplorer) url() string { return "http://" + r.Addr() }

// testWriter sends logs to t.Log while the test runs.
type testWriter struct{ t testing.TB }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testStack is a node, the services and an explorer indexing the node.
type testStack struct {
	URL      string // explorer base URL
	node     *testNode
	explorer *runningExplorer
	client   *rpc.Client
	next     int
}

// newTestStack starts a node with 200 ms blocks and an explorer (primary,
// replica, Redis) indexing it, and returns once the index has caught up.
func newTestStack(t *testing.T) *testStack {
	t.Helper()
	return newTestStackWith(t, nil)
}

// newTestStackWith is newTestStack with the explorer's configuration
// changed by set (nil: none).
func newTestStackWith(t *testing.T, set func(*Config)) *testStack {
	t.Helper()
	n := startTestNode(t, 200*time.Millisecond)
	pg, replica := testDB(t)
	cfg := testConfig(n.url(), pg, replica, testRedis(t))
	if set != nil {
		set(&cfg)
	}
	e := startExplorer(t, cfg)
	select {
	case <-e.Indexer().CaughtUp():
	case <-time.After(30 * time.Second):
		t.Fatal("the explorer did not catch up with the node in 30 s")
	}
	return &testStack{URL: e.url(), node: n, explorer: e, client: rpc.NewClient(n.url(), 2)}
}

// Transfer sends a value transfer between dev accounts, waits for the
// explorer to serve it, and returns its hash, block, sender and receiver.
func (s *testStack) Transfer(t *testing.T) (hash string, height uint64, from, to string) {
	t.Helper()
	hash, from, to = sendTransfer(t, s.client, s.next)
	s.next++
	var got TxJSON
	waitFor(t, 20*time.Second, "the explorer to index "+hash, func() bool {
		return getJSON(t, s.URL+"/api/tx/"+hash, &got) == http.StatusOK
	})
	return hash, got.BlockHeight, from, to
}

// sendTransfer sends a transfer from dev account i%10 to the next one and
// returns its hash and the two addresses, lower case.
func sendTransfer(t testing.TB, client *rpc.Client, i int) (hash, from, to string) {
	t.Helper()
	accts := node.DevAccounts(10)
	src, dst := accts[i%10], accts[(i+1)%10]
	ctx := context.Background()
	var chainID hexutil.Big
	if err := client.Call(ctx, &chainID, "eth_chainId"); err != nil {
		t.Fatal(err)
	}
	var nonce hexutil.Uint64
	if err := client.Call(ctx, &nonce, "eth_getTransactionCount", src.Address, "pending"); err != nil {
		t.Fatal(err)
	}
	var price hexutil.Big
	if err := client.Call(ctx, &price, "eth_gasPrice"); err != nil {
		t.Fatal(err)
	}
	tx, err := types.SignNewTx(src.Key, types.LatestSignerForChainID(chainID.ToInt()), &types.DynamicFeeTx{
		ChainID: chainID.ToInt(), Nonce: uint64(nonce), GasTipCap: big.NewInt(1e9),
		GasFeeCap: new(big.Int).Mul(price.ToInt(), big.NewInt(2)), Gas: 21000, To: &dst.Address, Value: big.NewInt(1234567890123),
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	var h common.Hash
	if err := client.Call(ctx, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(h.Hex()), strings.ToLower(src.Address.Hex()), strings.ToLower(dst.Address.Hex())
}

// get GETs u and returns the status, headers and body.
func get(t testing.TB, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// getJSON GETs url, decodes a 200 answer into v and returns the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	code, _, body := get(t, url)
	if code == http.StatusOK && v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return code
}

// gaugeValue reads a gauge.
func gaugeValue(g interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

// counterOf reads a counter.
func counterOf(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func testRedisURL() string { return os.Getenv("REDIS_URL") }
