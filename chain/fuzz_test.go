package chain

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>; run a fuzzer with
// go test -run='^$' -fuzz=FuzzDecodeBlock -fuzztime=1m ./chain

func FuzzDecodeHeader(f *testing.F) {
	h := sampleHeader()
	f.Add(h.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr, err := DecodeHeader(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error outside ErrDecode: %v", err)
			}
			return
		}
		if !bytes.Equal(hdr.Encode(), b) {
			t.Fatal("decoded header does not re-encode to its input")
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(sampleBlock().Encode())
	f.Add((&Block{Header: sampleHeader()}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeBlock(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error outside ErrDecode: %v", err)
			}
			return
		}
		if !bytes.Equal(blk.Encode(), b) {
			t.Fatal("decoded block does not re-encode to its input")
		}
		if blk.EncodedSize() != len(b) {
			t.Fatal("EncodedSize disagrees with the encoding")
		}
	})
}

func FuzzDecodeReceipts(f *testing.F) {
	f.Add(EncodeReceipts([]Receipt{{Status: 1, GasUsed: TransferGas, CumulativeGasUsed: TransferGas}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeReceipts(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error outside ErrDecode: %v", err)
			}
			return
		}
		if !bytes.Equal(EncodeReceipts(rs), b) {
			t.Fatal("receipts do not re-encode to their input")
		}
	})
}

func FuzzDecodeAccount(f *testing.F) {
	a := Account{Nonce: 7}
	a.Balance.SetUint64(1e18)
	f.Add(a.AppendEncode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		acct, err := DecodeAccount(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error outside ErrDecode: %v", err)
			}
			return
		}
		if !bytes.Equal(acct.AppendEncode(nil), b) {
			t.Fatal("account does not re-encode to its input")
		}
	})
}

func FuzzParseGenesis(f *testing.F) {
	g, _ := testGenesis(Address{1}, Address{2}).Encode()
	f.Add(g)
	f.Add([]byte(`{"chain_id":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, err := ParseGenesis(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidGenesis) {
				t.Fatalf("error outside ErrInvalidGenesis: %v", err)
			}
			return
		}
		// A valid genesis re-encodes to a document that parses to the same chain.
		enc, err := gen.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseGenesis(enc)
		if err != nil {
			t.Fatalf("re-encoded genesis rejected: %v", err)
		}
		if back.Hash() != gen.Hash() {
			t.Fatal("genesis hash not stable across a round trip")
		}
		gen.Block() // must not panic
	})
}

// txErrors are the errors ParseTx and RecoverSender may return.
var txErrors = []error{ErrOversized, ErrTxDecode, ErrTxType, ErrUnprotected, ErrWrongChainID,
	ErrContractCreation, ErrData, ErrAccessList, ErrGasLimit, ErrValueOverflow, ErrFeeCapTooLow,
	ErrTipAboveFeeCap, ErrInvalidSignature}

func FuzzDecodeTx(f *testing.F) {
	k := testKey(f, 0)
	for typ := range uint8(3) {
		f.Add(rawTx(f, k, txSpec{typ: typ}))
	}
	rules := testGenesis().Rules()
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := rules.DecodeTx(b)
		if err != nil {
			for _, known := range txErrors {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unknown rejection: %v", err)
		}
		if tx.Hash != Keccak256(b) || !bytes.Equal(tx.Raw, b) {
			t.Fatal("accepted tx does not hash its own encoding")
		}
		if tx.Gas != TransferGas || tx.TipCap.Gt(&tx.FeeCap) || tx.FeeCap.Lt(&rules.MinGasPrice) {
			t.Fatalf("accepted tx breaks a rule: %+v", tx)
		}
	})
}

// TestFuzzCorpus writes the seed corpora under testdata/fuzz with -update,
// and otherwise checks that each fuzzer has one.
func TestFuzzCorpus(t *testing.T) {
	k := testKey(t, 0)
	g, _ := testGenesis(Address{1}, Address{2}).Encode()
	a := Account{Nonce: 7}
	a.Balance.SetUint64(1e18)
	bad := sampleBlock().Encode()
	bad[0] = 2
	hdr := sampleHeader()
	seeds := map[string][][]byte{
		"FuzzDecodeHeader":   {hdr.Encode(), make([]byte, HeaderSize)},
		"FuzzDecodeBlock":    {sampleBlock().Encode(), (&Block{Header: sampleHeader()}).Encode(), bad},
		"FuzzDecodeReceipts": {EncodeReceipts([]Receipt{{Status: 1, GasUsed: TransferGas, CumulativeGasUsed: TransferGas, From: Address{3}}}), {}},
		"FuzzDecodeAccount":  {a.AppendEncode(nil)},
		"FuzzParseGenesis":   {g, []byte(`{"chain_id":1,"validators":[]}`)},
		"FuzzDecodeTx": {
			rawTx(t, k, txSpec{typ: 0}), rawTx(t, k, txSpec{typ: 1}), rawTx(t, k, txSpec{typ: 2}),
			rawTx(t, k, txSpec{typ: 2, data: []byte{1, 2, 3}}), rawTx(t, k, txSpec{typ: 0, chainID: 1}),
		},
	}
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*update {
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) == 0 {
				t.Errorf("%s has no seed corpus in %s (run with -update)", name, dir)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
