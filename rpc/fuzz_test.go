package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_chainId"}]`,
	`{"jsonrpc":"2.0","id":"x","method":"eth_getBalance","params":["0x0000000000000000000000000000000000000001","latest"]}`,
	`{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":[{"blockNumber":"0x1"},true]}`,
	`{"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":["0x02f86b"]}`,
	`{"jsonrpc":"2.0","id":4,"method":"eth_feeHistory","params":["0x5","latest",[10,50,90]]}`,
	`[]`, `[1,2]`, `{`, `null`,
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

// TestFuzzCorpus writes the seed corpus when BIZRA_UPDATE_CORPUS is set and
// otherwise checks that it exists.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHandle")
	if os.Getenv("BIZRA_UPDATE_CORPUS") == "" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (BIZRA_UPDATE_CORPUS=1 go test -run TestFuzzCorpus ./rpc)", dir)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
