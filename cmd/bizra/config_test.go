package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bizra/node0/node"
)

// runInProcess runs the CLI as main does and returns its exit code and
// outputs.
func runInProcess(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// initHome creates a home with a config that differs from the defaults.
func initHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	c := node.DefaultConfig()
	c.Mempool.Shards = 8
	c.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/9100"}
	if _, err := node.Init(node.InitOptions{Home: home, Moniker: "cfgtest", Config: &c}); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestConfigShow(t *testing.T) {
	home := initHome(t)
	code, out, errOut := runInProcess("config", "show", "--home", home,
		"--rpc.addr", "127.0.0.1:9999", "--log.format", "json", "--p2p.bootstrap", "/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp", "--metrics.off")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// File, then flags, over defaults.
	want, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if want.Moniker != "cfgtest" || want.Mempool.Shards != 8 {
		t.Fatalf("the home's file was not what the test wrote: %+v", want)
	}
	want.RPC.ListenAddr = "127.0.0.1:9999"
	want.Log.Format = "json"
	want.P2P.Bootstrap = []string{"/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"}
	want.Metrics.Enabled = false
	if out != string(node.EncodeConfig(&want)) {
		t.Fatalf("config show printed\n%s\nwant\n%s", out, node.EncodeConfig(&want))
	}
	// What it prints is a config file that loads as that config.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, node.ConfigFileName), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := node.LoadConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	got.Home = want.Home
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("printed config loads as %+v\nwant %+v", got, want)
	}
	for _, s := range []string{"moniker = \"cfgtest\"", "shards = 8", "# Sender shards", "ready_max_lag = 2"} {
		if !strings.Contains(out, s) {
			t.Errorf("config show does not print %q", s)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	home := initHome(t)
	cfgFile := filepath.Join(home, node.ConfigFileName)
	good, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		file     string // empty: the file init wrote
		args     []string
		wantCode int
		stdout   []string
		stderr   []string
	}{
		{name: "valid", wantCode: 0, stdout: []string{cfgFile + " is valid"}},
		{name: "every bad value", file: "ready_max_lag = 20000\n[p2p]\nfan_out = 1\nttl = 0\n[mempool]\nshards = 0\n[rpc]\nmax_batch = 0\n[chain]\naccount_cache_size = 1\n", wantCode: 1, stderr: []string{
			"bizra config: node: invalid config:",
			"ready_max_lag: must be at most 10000 blocks, not 20000",
			"p2p.fan_out: must be between 2 and 64, not 1",
			"p2p.ttl: must be between 1 and 1000, not 0",
			"mempool.shards: must be between 1 and 256, not 0",
			"rpc.max_batch: must be between 1 and 100000, not 0",
			"chain.account_cache_size: must be at least 1024, not 1",
		}},
		{name: "unknown key and wrong type", file: "moniker = 7\n[p2p]\nfanout = 3\n", wantCode: 1, stderr: []string{
			cfgFile + ":1:11: moniker: wrong type: want a string, not an integer",
			cfgFile + ":3:1: p2p.fanout: unknown key",
		}},
		{name: "not a home", args: []string{"config", "check", "--home", filepath.Join(t.TempDir(), "none")}, wantCode: 1, stderr: []string{"bizra init --home"}},
		{name: "stray argument", args: []string{"config", "check", "--home", home, "extra"}, wantCode: 2, stderr: []string{"unexpected arguments"}},
		{name: "help", args: []string{"config", "--help"}, wantCode: 0, stderr: []string{"show   print the effective configuration", "check  read and validate"}},
		{name: "short help", args: []string{"config", "-h"}, wantCode: 0, stderr: []string{"bizra config show [--home DIR]", "bizra config check [--home DIR]"}},
		{name: "show flags", args: []string{"config", "show", "-h"}, wantCode: 0, stderr: []string{"-rpc.addr", "-home"}},
		{name: "no subcommand", args: []string{"config"}, wantCode: 2, stderr: []string{"say show or check"}},
		{name: "unknown subcommand", args: []string{"config", "edit"}, wantCode: 2, stderr: []string{`unknown subcommand "edit"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := good
			if tc.file != "" {
				body = []byte(tc.file)
			}
			if err := os.WriteFile(cfgFile, body, 0o644); err != nil {
				t.Fatal(err)
			}
			args := tc.args
			if args == nil {
				args = []string{"config", "check", "--home", home}
			}
			code, out, errOut := runInProcess(args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout does not say %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr does not say %q:\n%s", s, errOut)
				}
			}
		})
	}
	// Checking starts nothing: no store was opened.
	if _, err := os.Stat(filepath.Join(home, "data")); !os.IsNotExist(err) {
		t.Fatalf("config check created the store: %v", err)
	}
}
