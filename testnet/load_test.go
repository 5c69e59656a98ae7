package testnet

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bizra/node0/node"
)

// startNode runs a devnet-like node in this process with JSON-RPC on a free
// port and returns its URL.
func startNode(t *testing.T, blockTime time.Duration) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	cfg := node.DefaultConfig()
	cfg.Metrics.Enabled = false
	cfg.P2P.Enabled = false
	cfg.RPC.ListenAddr = "127.0.0.1:0"
	if _, err := node.Init(node.InitOptions{Home: home, BlockTime: blockTime, DevAccounts: 10, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(c, node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for n.RPCAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("RPC did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "http://" + n.RPCAddr()
}

func devFunders() LoadConfig {
	cfg := DefaultLoadConfig()
	for _, a := range node.DevAccounts(10) {
		cfg.Funders = append(cfg.Funders, a.Key)
	}
	return cfg
}

func TestRunLoadCommitsEverything(t *testing.T) {
	url := startNode(t, 100*time.Millisecond)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Accounts, cfg.Txs, cfg.Rate, cfg.Batch, cfg.Conns = 60, 3000, 1500, 50, 3
	cfg.Settle = 20 * time.Second
	cfg.Progress = io.Discard
	rep, err := RunLoad(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.Sent != 3000 || rep.Accepted != 3000 || rep.Committed != 3000 || rep.Lost != 0 || len(rep.Rejected) != 0 ||
		rep.TransportErrors != 0 || rep.Unconfirmed != 0 {
		t.Fatalf("report %+v", rep)
	}
	// 100 ms blocks: a transfer waits at most for the block after next.
	if rep.Blocks < 10 || rep.Inclusion.P50 < 1 || rep.Inclusion.P95 > 400 || rep.BlockIntervalMs < 90 || rep.BlockIntervalMs > 150 {
		t.Fatalf("block figures %+v", rep)
	}
	if rep.CommittedTPS < 1000 || rep.CommittedTPS > 1600 {
		t.Fatalf("committed %.0f tx/s for 1,500 offered", rep.CommittedTPS)
	}
	// A second run reuses the funded accounts and continues their nonces.
	cfg.Txs = 600
	rep, err = RunLoad(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 600 || rep.Lost != 0 {
		t.Fatalf("second run %+v", rep)
	}
}

func TestRunLoadReportsRejections(t *testing.T) {
	url := startNode(t, 100*time.Millisecond)
	cfg := devFunders()
	cfg.Endpoints = []string{url}
	cfg.Funders = nil // nobody pays: the accounts are empty
	cfg.Accounts, cfg.Txs = 5, 10
	if _, err := RunLoad(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "need funds") {
		t.Fatalf("got %v", err)
	}
}

func TestRunReads(t *testing.T) {
	url := startNode(t, 200*time.Millisecond)
	rep, err := RunReads(context.Background(), ReadConfig{Endpoint: url, Method: "eth_blockNumber", Rate: 400, Duration: time.Second, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Calls < 380 || rep.Calls > 400 || rep.Latency.P50 <= 0 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := RunReads(context.Background(), ReadConfig{Endpoint: url, Method: "eth_nothing", Rate: 1, Duration: time.Second, Conns: 1}); err == nil {
		t.Fatal("an unknown method passed the trial call")
	}
}

func TestConfigValidate(t *testing.T) {
	err := LoadConfig{Endpoints: []string{"localhost:8545"}}.Validate()
	for _, want := range []string{"http://", "accounts 0", "number of transfers", "batch 0", "conns 0", "settle"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}
