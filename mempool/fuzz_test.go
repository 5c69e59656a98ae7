package mempool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAdd feeds arbitrary bytes to the admission path: it must not panic,
// every rejection must be a known error, and the pool must stay consistent.
// Seeds live in testdata/fuzz/FuzzAdd; run with
// go test -run='^$' -fuzz=FuzzAdd -fuzztime=1m ./mempool
func FuzzAdd(f *testing.F) {
	k := key(f, 1)
	for _, s := range fuzzSeeds(f, k) {
		f.Add(s)
	}
	tc := newTestChain(f, []*KeyT{k}, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs, cfg.MaxPendingPerSender, cfg.MaxQueuedPerSender = 8, 4, 4
	p := newPool(f, tc, cfg, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := p.Add(b)
		if err != nil {
			if reasonOf(err) == len(reasons) {
				t.Fatalf("unknown rejection: %v", err)
			}
			return
		}
		if got, ok := p.Get(tx.Hash); !ok || got != tx {
			t.Fatal("admitted transaction not found")
		}
		p.checkInvariants(t)
	})
}

func fuzzSeeds(t testing.TB, k *KeyT) [][]byte {
	return [][]byte{
		raw(t, k, spec{nonce: 0}),
		raw(t, k, spec{nonce: 2, legacy: true}),
		raw(t, k, spec{nonce: 0, feeCap: 3e9, tip: 2e9}),
		raw(t, k, spec{nonce: 1, value: 1e18}),
		{0x02, 0xc0},
		{},
	}
}

// TestFuzzCorpus writes the FuzzAdd seed corpus when BIZRA_UPDATE_CORPUS is set
// and otherwise checks that it exists.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzAdd")
	if os.Getenv("BIZRA_UPDATE_CORPUS") == "" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (BIZRA_UPDATE_CORPUS=1 go test -run TestFuzzCorpus ./mempool)", dir)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range fuzzSeeds(t, key(t, 1)) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
