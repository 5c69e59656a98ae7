package explorer

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/bizra/node0/rpc"
)

// FuzzNodeBlock feeds arbitrary JSON to the decoding of a node's block,
// receipts and certificate into rpc's types and to their conversion: it
// must return a block or an error, never panic, and a block it returns must
// be consistent.
func FuzzNodeBlock(f *testing.F) {
	f.Add([]byte(`{"number":"0x1","hash":"0x01000000000000000000000000000000000000000000000000000000000000ff","parentHash":"0x00","miner":"0x0000000000000000000000000000000000000001","gasUsed":"0x5208","timestampMs":"0x10","round":"0x0","transactions":[{"hash":"0x02","from":"0x0000000000000000000000000000000000000002","to":"0x0000000000000000000000000000000000000003","nonce":"0x0","value":"0xde0b6b3a7640000","gasPrice":"0x3b9aca00"}]}`),
		[]byte(`[{"transactionHash":"0x02","gasUsed":"0x5208","effectiveGasPrice":"0x3b9aca00","status":"0x1"}]`),
		[]byte(`{"decoded":{"signers":["v0"],"signedStake":"0x1","totalStake":"0x1"}}`), uint64(1))
	f.Add([]byte(`null`), []byte(`null`), []byte(`{}`), uint64(5))
	f.Add([]byte(`{"number":"0x2","hash":"0x03","transactions":[{}]}`), []byte(`[]`), []byte(`{"decoded":null}`), uint64(2))
	f.Fuzz(func(t *testing.T, block, receipts, cert []byte, height uint64) {
		var jb rpc.Block
		var rs []rpc.Receipt
		var jc rpc.BlockCertificate
		if json.Unmarshal(block, &jb) != nil || json.Unmarshal(receipts, &rs) != nil || json.Unmarshal(cert, &jc) != nil {
			return
		}
		b, err := convert(height, &jb, rs, &jc)
		if err != nil {
			return
		}
		if b.Height != height || len(b.Txs) != len(rs) {
			t.Fatalf("block %d with %d txs from height %d and %d receipts", b.Height, len(b.Txs), height, len(rs))
		}
		for _, tx := range b.Txs {
			if tx.Value == nil || tx.Fee == nil || tx.GasPrice == nil {
				t.Fatal("nil amount")
			}
		}
	})
}

// FuzzAPIParams feeds arbitrary strings to the API's input parsers: each
// accepts only what it documents and never panics.
func FuzzAPIParams(f *testing.F) {
	for _, s := range []string{"5", "0", "101", "-1", "1e3", "0x12", "0xzz", "1-2", "18446744073709551616-0", "3-", "-", " 7",
		"0x" + strings.Repeat("ab", 32), "0X" + strings.Repeat("AB", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req := httptest.NewRequest("GET", "/api/blocks?limit="+url.QueryEscape(s), nil)
		if n, err := limitParam(req, 20, 100); err == nil && (n < 1 || n > 100) {
			t.Fatalf("limit %q accepted as %d", s, n)
		}
		for _, size := range []int{20, 32} {
			if b, err := hexParam(s, size, "x"); err == nil && len(b) != size {
				t.Fatalf("%q accepted as %d bytes, want %d", s, len(b), size)
			}
		}
		if h, err := heightParam(s); err == nil && (h < 0 || strconv.FormatInt(h, 10) != strings.TrimLeft(s, "+0") && h != 0) {
			t.Fatalf("height %q accepted as %d", s, h)
		}
		if h, i, err := parseCursor(s); err == nil {
			if h < 0 || i < 0 {
				t.Fatalf("cursor %q accepted as %d-%d", s, h, i)
			}
			if h2, i2, err := parseCursor(fmt.Sprintf("%d-%d", h, i)); err != nil || h2 != h || i2 != i {
				t.Fatalf("cursor %q does not round-trip", s)
			}
		}
	})
}
