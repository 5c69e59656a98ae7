package rpc

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestTypesRoundTrip decodes each golden answer into the exported type a
// reader such as the explorer uses and encodes it again: every field must
// survive, in both forms of a block's transactions.
func TestTypesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"block_hashes.json", new(Block)},
		{"block_full.json", new(Block)},
		{"tx_legacy.json", new(Transaction)},
		{"tx_dynamic_fee.json", new(Transaction)},
		{"tx_access_list.json", new(Transaction)},
		{"receipt.json", new(Receipt)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "golden", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, tc.v); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("round trip differs:\n got: %s\nwant: %s", got.Bytes(), want)
			}
		})
	}
}

func TestBlockTransactions(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		hashes, full int
		err          bool
	}{
		{name: "empty", in: `[]`},
		{name: "hashes", in: ` [ "0x0100000000000000000000000000000000000000000000000000000000000000"]`, hashes: 1},
		{name: "objects", in: "[\n {\"nonce\":\"0x1\"},{}]", full: 2},
		{name: "mixed", in: `[{}, "0x0100000000000000000000000000000000000000000000000000000000000000"]`, err: true},
		{name: "not an array", in: `{}`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bt BlockTransactions
			err := json.Unmarshal([]byte(tc.in), &bt)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if err == nil && (len(bt.Hashes) != tc.hashes || len(bt.Full) != tc.full) {
				t.Fatalf("%d hashes and %d objects, want %d and %d", len(bt.Hashes), len(bt.Full), tc.hashes, tc.full)
			}
		})
	}
	if b, _ := json.Marshal(BlockTransactions{}); string(b) != "[]" {
		t.Fatalf("no transactions encode as %s", b)
	}
}
