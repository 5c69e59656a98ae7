package chain

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func sampleHeader() Header {
	return Header{
		ChainID:      4242,
		Height:       1_000_001,
		Round:        3,
		Timestamp:    1_767_323_045_000,
		GasUsed:      42_000,
		ParentHash:   Keccak256([]byte("parent")),
		Proposer:     Address{0xfe, 0xe5, 0x01},
		TxRoot:       Keccak256([]byte("txs")),
		StateRoot:    Keccak256([]byte("state")),
		ReceiptsRoot: Keccak256([]byte("receipts")),
	}
}

func sampleBlock() *Block {
	return &Block{
		Header: sampleHeader(),
		Txs:    [][]byte{{0x02, 0xc0}, bytes.Repeat([]byte{0xab}, 40)},
		Cert:   []byte("certificate bytes"),
	}
}

func TestHeaderEncoding(t *testing.T) {
	h := sampleHeader()
	enc := h.Encode()
	if len(enc) != HeaderSize {
		t.Fatalf("encoded %d bytes, want %d", len(enc), HeaderSize)
	}
	golden(t, "header.hex", []byte(hex.EncodeToString(enc)+"\n"))
	golden(t, "header_hash.txt", []byte(h.Hash().Hex()+"\n"))
	back, err := DecodeHeader(enc)
	if err != nil {
		t.Fatal(err)
	}
	if *back != h {
		t.Fatalf("round trip: %+v != %+v", back, h)
	}
	// Every field is covered by the hash.
	mutations := map[string]func(*Header){
		"chain id":      func(h *Header) { h.ChainID++ },
		"height":        func(h *Header) { h.Height++ },
		"round":         func(h *Header) { h.Round++ },
		"timestamp":     func(h *Header) { h.Timestamp++ },
		"gas used":      func(h *Header) { h.GasUsed++ },
		"parent":        func(h *Header) { h.ParentHash[0] ^= 1 },
		"proposer":      func(h *Header) { h.Proposer[19] ^= 1 },
		"tx root":       func(h *Header) { h.TxRoot[31] ^= 1 },
		"state root":    func(h *Header) { h.StateRoot[5] ^= 1 },
		"receipts root": func(h *Header) { h.ReceiptsRoot[9] ^= 1 },
	}
	for name, mut := range mutations {
		t.Run(name, func(t *testing.T) {
			m := h
			mut(&m)
			if m.Hash() == h.Hash() {
				t.Fatalf("changing %s does not change the hash", name)
			}
		})
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	h := sampleHeader()
	enc := h.Encode()
	badVersion := append([]byte(nil), enc...)
	badVersion[0] = 2
	for name, b := range map[string][]byte{
		"empty":    nil,
		"short":    enc[:HeaderSize-1],
		"trailing": append(append([]byte(nil), enc...), 0),
		"version":  badVersion,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeHeader(b); !errors.Is(err, ErrDecode) {
				t.Fatalf("got %v, want ErrDecode", err)
			}
		})
	}
}

func TestBlockEncoding(t *testing.T) {
	b := sampleBlock()
	enc := b.Encode()
	if len(enc) != b.EncodedSize() {
		t.Fatalf("EncodedSize %d, encoding %d", b.EncodedSize(), len(enc))
	}
	golden(t, "block.hex", []byte(hex.EncodeToString(enc)+"\n"))
	back, err := DecodeBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Encode(), enc) || back.Hash() != b.Hash() {
		t.Fatal("round trip changed the block")
	}
	// The certificate is not part of the hash.
	c := *b
	c.Cert = []byte("another certificate")
	if c.Hash() != b.Hash() {
		t.Fatal("certificate changes the block hash")
	}
	// An empty block round-trips with nil slices.
	e := &Block{Header: sampleHeader()}
	back, err = DecodeBlock(e.Encode())
	if err != nil || back.Txs != nil || back.Cert != nil {
		t.Fatalf("empty block: %v %v %v", err, back.Txs, back.Cert)
	}
	// The decoded block does not alias the input buffer.
	enc[len(enc)-1] ^= 0xff
	if back2, _ := DecodeBlock(b.Encode()); back2.Cert[len(back2.Cert)-1] != b.Cert[len(b.Cert)-1] {
		t.Fatal("aliasing")
	}
}

func TestDecodeBlockRejects(t *testing.T) {
	enc := sampleBlock().Encode()
	hugeCount := append([]byte(nil), enc[:HeaderSize]...)
	hugeCount = append(hugeCount, 0xff, 0xff, 0xff, 0xff)
	for name, b := range map[string][]byte{
		"header only":     enc[:HeaderSize],
		"truncated tx":    enc[:HeaderSize+4+4+1],
		"truncated cert":  enc[:len(enc)-1],
		"trailing":        append(append([]byte(nil), enc...), 0),
		"huge tx count":   hugeCount,
		"bad header only": append([]byte{9}, enc[1:]...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeBlock(b); !errors.Is(err, ErrDecode) {
				t.Fatalf("got %v, want ErrDecode", err)
			}
		})
	}
}

// TestBlockLimits checks each limit of the block encoding at its value
// and one above, with the bytes present, so that it is the limit that
// refuses and not the length of the input.
func TestBlockLimits(t *testing.T) {
	withTxs := func(txs ...[]byte) []byte { return (&Block{Header: sampleHeader(), Txs: txs}).Encode() }
	withCert := func(n int) []byte { return (&Block{Header: sampleHeader(), Cert: make([]byte, n)}).Encode() }
	// manyTxs claims n empty transactions and carries their length prefixes.
	manyTxs := func(n int) []byte {
		h := sampleHeader()
		b := h.Encode()
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		b = append(b, make([]byte, 4*n+4)...)
		return b
	}
	tests := []struct {
		name string
		enc  []byte
		err  string // empty when the block decodes
	}{
		{"transaction at MaxMaxTxBytes", withTxs(make([]byte, MaxMaxTxBytes)), ""},
		{"transaction over MaxMaxTxBytes", withTxs(make([]byte, MaxMaxTxBytes+1)), "tx: length 131073 exceeds the limit of 131072 bytes"},
		{"certificate at MaxCertBytes", withCert(MaxCertBytes), ""},
		{"certificate over MaxCertBytes", withCert(MaxCertBytes + 1), "cert: length 131386 exceeds the limit of 131385 bytes"},
		{"MaxBlockTxsLimit transactions", manyTxs(MaxBlockTxsLimit), ""},
		{"more than MaxBlockTxsLimit transactions", manyTxs(MaxBlockTxsLimit + 1), "tx count: count 1000001 exceeds the limit of 1000000"},
		{"tx count over the input", manyTxs(3)[:HeaderSize+4+11], "tx count: count 3 of at least 4 bytes each exceeds the remaining 11 bytes"},
		{"tx length over the input", withTxs([]byte("abc"))[:HeaderSize+4+4+2], "tx: length 3 exceeds the remaining 2 bytes"},
		{"trailing bytes", append(withTxs(), 0), "block: 1 trailing bytes"},
		{"header version", append([]byte{2}, withTxs()[1:]...), "header version: 2, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blk, err := DecodeBlock(tt.enc)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(blk.Encode(), tt.enc) {
					t.Fatal("round trip changed the block")
				}
				return
			}
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tt.err) || blk != nil {
				t.Fatalf("got %v, %v; want ErrDecode with %q", blk, err, tt.err)
			}
		})
	}
	// Every strict prefix of a block fails to decode.
	enc := sampleBlock().Encode()
	for i := range enc {
		if _, err := DecodeBlock(enc[:i]); !errors.Is(err, ErrDecode) {
			t.Fatalf("prefix of %d bytes: %v", i, err)
		}
	}
}

func TestMerkleRoot(t *testing.T) {
	a, b, c := Keccak256([]byte("a")), Keccak256([]byte("b")), Keccak256([]byte("c"))
	leaf := func(h Hash) Hash { return Keccak256([]byte{0}, h[:]) }
	node := func(l, r Hash) Hash { return Keccak256([]byte{1}, l[:], r[:]) }
	cases := []struct {
		name  string
		items []Hash
		want  Hash
	}{
		{"empty", nil, Keccak256(nil)},
		{"one", []Hash{a}, leaf(a)},
		{"two", []Hash{a, b}, node(leaf(a), leaf(b))},
		{"three carries the odd leaf", []Hash{a, b, c}, node(node(leaf(a), leaf(b)), leaf(c))},
		{"order matters", []Hash{b, a}, node(leaf(b), leaf(a))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MerkleRoot(tc.items); got != tc.want {
				t.Fatalf("got %s want %s", got, tc.want)
			}
		})
	}
	// Input is not modified.
	in := []Hash{a, b, c}
	MerkleRoot(in)
	if in[0] != a || in[2] != c {
		t.Fatal("MerkleRoot modified its input")
	}
}

func TestReceiptsEncoding(t *testing.T) {
	rs := []Receipt{
		{Status: 1, GasUsed: 21000, CumulativeGasUsed: 21000, From: Address{1}},
		{Status: 1, GasUsed: 21000, CumulativeGasUsed: 42000, From: Address{2}},
	}
	rs[1].EffectiveGasPrice.SetUint64(1_500_000_000)
	enc := EncodeReceipts(rs)
	golden(t, "receipts.hex", []byte(hex.EncodeToString(enc)+"\n"))
	back, err := DecodeReceipts(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[1] != rs[1] || back[0] != rs[0] {
		t.Fatalf("round trip: %+v", back)
	}
	if _, err := DecodeReceipts(enc[:len(enc)-1]); !errors.Is(err, ErrDecode) {
		t.Fatalf("truncated receipts: %v", err)
	}
	if r := ReceiptsRoot(rs); r == EmptyRoot || r == ReceiptsRoot(rs[:1]) {
		t.Fatal("receipts root ignores receipts")
	}
}

func TestPartitionKeys(t *testing.T) {
	blocks, receipts := PartitionRanges(1)
	for _, tc := range []struct {
		h  uint64
		in bool
	}{{999_999, false}, {1_000_000, true}, {1_999_999, true}, {2_000_000, false}} {
		for _, kr := range []struct {
			r   KeyRange
			key []byte
		}{{blocks, blockKey(tc.h)}, {receipts, receiptsKey(tc.h)}} {
			in := bytes.Compare(kr.key, kr.r.Lo) >= 0 && bytes.Compare(kr.key, kr.r.Hi) < 0
			if in != tc.in {
				t.Fatalf("height %d in partition 1: %v, want %v", tc.h, in, tc.in)
			}
		}
	}
	if !strings.HasPrefix(string(blockKey(5)), "b") {
		t.Fatal("block keys use prefix b")
	}
}

// benchBlock is a block of n transactions of 110 bytes (the size of a
// signed transfer) with a certificate of 100 signers: the shape the codec
// sees on every proposal, sync response and store read.
func benchBlock(n int) *Block {
	b := &Block{Header: sampleHeader(), Txs: make([][]byte, n), Cert: bytes.Repeat([]byte{0xce}, 57+13+96)}
	for i := range b.Txs {
		b.Txs[i] = bytes.Repeat([]byte{byte(i)}, 110)
	}
	return b
}

func BenchmarkEncodeBlock10k(b *testing.B) {
	blk := benchBlock(10_000)
	b.SetBytes(int64(blk.EncodedSize()))
	for b.Loop() {
		_ = blk.Encode()
	}
}

func BenchmarkDecodeBlock10k(b *testing.B) {
	enc := benchBlock(10_000).Encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeBlock(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeHeader(b *testing.B) {
	h := sampleHeader()
	var buf [HeaderSize]byte
	for b.Loop() {
		_ = h.AppendEncode(buf[:0])
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	h := sampleHeader()
	enc := h.Encode()
	for b.Loop() {
		if _, err := DecodeHeader(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchReceipts are the receipts of a block of 10,000 transfers.
func benchReceipts() []Receipt {
	rs := make([]Receipt, 10_000)
	for i := range rs {
		rs[i] = Receipt{Status: ReceiptSuccess, GasUsed: TransferGas, CumulativeGasUsed: uint64(i+1) * TransferGas, From: Address{byte(i), byte(i >> 8)}}
		rs[i].EffectiveGasPrice.SetUint64(1_500_000_000)
	}
	return rs
}

func BenchmarkEncodeReceipts10k(b *testing.B) {
	rs := benchReceipts()
	b.SetBytes(int64(len(rs) * ReceiptSize))
	for b.Loop() {
		_ = EncodeReceipts(rs)
	}
}

func BenchmarkDecodeReceipts10k(b *testing.B) {
	enc := EncodeReceipts(benchReceipts())
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeReceipts(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAccount(b *testing.B) {
	a := Account{Nonce: 7}
	a.Balance.SetUint64(1e18)
	var buf [accountSize]byte
	for b.Loop() {
		_ = a.AppendEncode(buf[:0])
	}
}

func BenchmarkDecodeAccount(b *testing.B) {
	a := Account{Nonce: 7}
	a.Balance.SetUint64(1e18)
	enc := a.AppendEncode(nil)
	for b.Loop() {
		if _, err := DecodeAccount(enc); err != nil {
			b.Fatal(err)
		}
	}
}
