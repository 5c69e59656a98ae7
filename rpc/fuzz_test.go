package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_chainId"}]`,
	`{"jsonrpc":"2.0","id":"x","method":"eth_getBalance","params":["0x0000000000000000000000000000000000000001","latest"]}`,
	`{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":[{"blockNumber":"0x1"},true]}`,
	`{"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":["0x02f86b"]}`,
	`{"jsonrpc":"2.0","id":4,"method":"eth_feeHistory","params":["0x5","latest",[10,50,90]]}`,
	`{"jsonrpc":"2.0","id":5,"method":"bizra_getRawBlocks","params":["0x0","0x100"]}`,
	`[{"jsonrpc":"2.0","id":6,"method":"eth_getBlockByNumber","params":["0x1",true]},{"jsonrpc":"2.0","id":7,"method":"eth_getBlockReceipts","params":["latest"]}]`,
	`[]`, `[1,2]`, `{`, `null`,
}

// doorSeeds are Host headers and remote addresses for FuzzDoor.
var doorSeeds = [][2]string{
	{"127.0.0.1:8545", "127.0.0.1:40000"},
	{"localhost", "[::1]:40000"},
	{"[::1]:8545", "[2001:db8::1%eth0]:1"},
	{"evil.example:8545", "10.0.0.1:5"},
	{"LOCALHOST.:80", "::ffff:127.0.0.1"},
	{"[fe80::1%25eth0]:1", "not an address"},
	{"", ""},
}

// FuzzHandle feeds arbitrary bodies through request decoding and dispatch:
// no panic, and every answer is valid JSON. Seeds live in
// testdata/fuzz/FuzzHandle; run with
// go test -run='^$' -fuzz=FuzzHandle -fuzztime=1m ./rpc
func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	e := newEnv(f, DefaultConfig())
	f.Fuzz(func(t *testing.T, body []byte) {
		out := e.srv.handle(context.Background(), client{key: "fuzz"}, nil, body)
		if out != nil && !json.Valid(out) {
			t.Fatalf("answer is not JSON: %s", out)
		}
		d, derr := decodeBody(body, DefaultConfig().MaxBatch)
		if derr == nil && len(d.calls) == 0 {
			t.Fatal("decoded no calls and no error")
		}
	})
}

// FuzzDoor feeds arbitrary Host headers and remote addresses through the
// checks at the door: no panic; under the defaults a host passes only as
// an IP address or localhost, and a client is exempt only on loopback.
// go test -run='^$' -fuzz=FuzzDoor -fuzztime=1m ./rpc
func FuzzDoor(f *testing.F) {
	for _, s := range doorSeeds {
		f.Add(s[0], s[1])
	}
	e := newEnv(f, DefaultConfig())
	f.Fuzz(func(t *testing.T, host, remote string) {
		if e.srv.hostAllowed(host) && host != "" {
			name := host
			if h, _, err := net.SplitHostPort(host); err == nil {
				name = h
			}
			name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"), ".")
			if _, err := netip.ParseAddr(name); err != nil && !strings.EqualFold(name, "localhost") {
				t.Fatalf("host %q allowed by default", host)
			}
		}
		c := e.srv.clientOf(remote)
		if c.key == "" && remote != "" {
			t.Fatalf("no key for %q", remote)
		}
		if c.exempt {
			h := remote
			if hh, _, err := net.SplitHostPort(remote); err == nil {
				h = hh
			}
			if a, err := netip.ParseAddr(h); err != nil || !a.Unmap().IsLoopback() {
				t.Fatalf("%q exempt by default", remote)
			}
		}
	})
}

// TestFuzzCorpus writes the seed corpus when BIZRA_UPDATE_CORPUS is set and
// otherwise checks that it exists.
func TestFuzzCorpus(t *testing.T) {
	corpora := map[string][]string{}
	for _, s := range fuzzSeeds {
		corpora["FuzzHandle"] = append(corpora["FuzzHandle"], fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s))
	}
	for _, s := range doorSeeds {
		corpora["FuzzDoor"] = append(corpora["FuzzDoor"], fmt.Sprintf("go test fuzz v1\nstring(%q)\nstring(%q)\n", s[0], s[1]))
	}
	for name, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", name)
		if os.Getenv("BIZRA_UPDATE_CORPUS") == "" {
			if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
				t.Fatalf("no seed corpus in %s (BIZRA_UPDATE_CORPUS=1 go test -run TestFuzzCorpus ./rpc)", dir)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, body := range seeds {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
