package node

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

func sampleVote() *consensus.Message {
	return &consensus.Message{Kind: consensus.KindVote, From: 3, Vote: &consensus.Vote{
		Type: consensus.Prevote, Height: 7, Round: 1, BlockID: chain.Keccak256([]byte("b")), Validator: 3, Sig: bytes.Repeat([]byte{7}, 96),
	}}
}

// sampleMessages has one message of each kind, each From its body's
// author (what decodeWire sets).
func sampleMessages() []*consensus.Message {
	bm := consensus.NewBitmap(10)
	bm.Set(2)
	bm.Set(5)
	sig := bytes.Repeat([]byte{9}, 96)
	block := chain.Keccak256([]byte("b"))
	qc := &consensus.QC{Type: consensus.Precommit, Height: 7, Round: 2, BlockID: block, Signers: bm, Sig: sig}
	return []*consensus.Message{
		sampleVote(),
		{Kind: consensus.KindTimeout, From: 4, Timeout: &consensus.Timeout{Height: 7, Round: 3, Validator: 4, Sig: sig}},
		{Kind: consensus.KindProposal, From: 1, Proposal: &consensus.Proposal{
			Height: 7, Round: 3, BlockID: block, Payload: []byte("block"), ValidRound: 2, POL: qc, Proposer: 1, Sig: sig,
		}},
		{Kind: consensus.KindAggregate, From: 2, QC: qc},
		{Kind: consensus.KindQC, From: 2, QC: qc},
		{Kind: consensus.KindTC, From: 2, TC: &consensus.TC{Height: 7, Round: 3, Signers: bm, Sig: sig}},
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		for _, attempt := range []uint8{0, maxAttempt} {
			t.Run(fmt.Sprintf("%s attempt %d", kindName(m.Kind), attempt), func(t *testing.T) {
				b := encodeWire(attempt, m)
				a, got, err := decodeWire(b)
				if err != nil {
					t.Fatal(err)
				}
				if a != attempt || !bytes.Equal(got.Encode(), m.Encode()) {
					t.Fatalf("got attempt %d %+v", a, got)
				}
				if h, ok := wireHeight(b); !ok || h != m.Height() {
					t.Fatalf("wireHeight %d %v, want %d", h, ok, m.Height())
				}
			})
		}
	}
}

// TestWireIdentity: the message identity is the payload's hash (p2p's
// default), so what decides it must be exactly what a receiver acts on.
// The sender index is not on the wire (a copy claiming another sender is
// the same bytes), and the attempt is the only byte that makes a copy of a
// body another message.
func TestWireIdentity(t *testing.T) {
	m := sampleVote()
	other := sampleVote()
	other.From = 0 // a relay claiming to be someone else
	if !bytes.Equal(encodeWire(0, m), encodeWire(0, other)) {
		t.Fatal("the sender index changes the wire bytes")
	}
	a0, a1 := encodeWire(0, m), encodeWire(1, m)
	if bytes.Equal(a0, a1) || !bytes.Equal(wireBody(a0), wireBody(a1)) {
		t.Fatal("attempts must differ in the identity and share the body")
	}
	// A proposal's payload and proof of lock are part of the identity: a
	// copy with another payload is another message, which its checks
	// reject, and not a duplicate that would hide the real one.
	p := sampleMessages()[2]
	q := *p.Proposal
	q.Payload = []byte("junk")
	if bytes.Equal(encodeWire(0, p), encodeWire(0, &consensus.Message{Kind: p.Kind, Proposal: &q})) {
		t.Fatal("a proposal's payload is not part of its identity")
	}
}

func TestWireRejects(t *testing.T) {
	good := encodeWire(1, sampleVote())
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:2]},
		{"another version", append([]byte{9}, good[1:]...)},
		{"version 2, with recipients", append([]byte{2, 0, 0}, good[2:]...)},
		{"attempt beyond the last", append([]byte{wireVersion, maxAttempt + 1}, good[2:]...)},
		{"unknown kind", append([]byte{wireVersion, 0, 99}, good[3:]...)},
		{"truncated message", good[:len(good)-1]},
		{"trailing bytes", append(slices.Clone(good), 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := decodeWire(c.b); !errors.Is(err, errWire) {
				t.Fatalf("err = %v, want errWire", err)
			}
		})
	}
}

func TestTxBatchRoundTrip(t *testing.T) {
	raws := [][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 300), {4}}
	got, err := decodeTxBatch(encodeTxBatch(raws))
	if err != nil || len(got) != len(raws) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range raws {
		if !bytes.Equal(got[i], raws[i]) {
			t.Fatalf("tx %d: %x", i, got[i])
		}
	}
	good := encodeTxBatch(raws)
	for _, b := range [][]byte{nil, {0, 0, 0, 0}, good[:len(good)-1], append(slices.Clone(good), 1), {0, 0, 0xff, 0xff}, {0, 0, 0, 1, 0, 0, 0, 0}} {
		if _, err := decodeTxBatch(b); !errors.Is(err, errTxBatch) {
			t.Fatalf("decodeTxBatch(%x) = %v, want errTxBatch", b, err)
		}
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the FuzzDecodeWire seed corpus in testdata/fuzz")

// TestWireCorpus keeps the seed corpus of FuzzDecodeWire in step with the
// wire: one seed per kind that decodes, and the malformed ones below.
// Regenerate with -update-corpus.
func TestWireCorpus(t *testing.T) {
	seeds := map[string][]byte{
		"header-only":   {wireVersion, 0},
		"bad-version":   append([]byte{2}, encodeWire(0, sampleVote())[1:]...),
		"attempt-4":     append([]byte{wireVersion, 4}, encodeWire(0, sampleVote())[2:]...),
		"trailing-byte": append(encodeWire(0, sampleVote()), 0),
	}
	for i, m := range sampleMessages() {
		seeds[kindName(m.Kind)] = encodeWire(uint8(i%(maxAttempt+1)), m)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeWire")
	if *updateCorpus {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (regenerate with -update-corpus)", name, err)
		}
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b); string(got) != want {
			t.Fatalf("seed %s is stale (regenerate with -update-corpus)", name)
		}
	}
}

// FuzzDecodeWire: whatever decodes re-encodes to the same bytes, names the
// sender its body does, and has the height wireHeight reads.
func FuzzDecodeWire(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(encodeWire(0, m))
	}
	f.Add([]byte{wireVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		attempt, m, err := decodeWire(b)
		if err != nil {
			return
		}
		if again := encodeWire(attempt, m); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
		if m.From != wireSender(m) {
			t.Fatalf("sender %d, body names %d", m.From, wireSender(m))
		}
		if h, ok := wireHeight(b); !ok || h != m.Height() {
			t.Fatalf("wireHeight %d %v, message height %d", h, ok, m.Height())
		}
	})
}

// FuzzDecodeTxBatch: whatever decodes re-encodes to the same bytes.
func FuzzDecodeTxBatch(f *testing.F) {
	f.Add(encodeTxBatch([][]byte{{1, 2, 3}, {4}}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := decodeTxBatch(b)
		if err != nil {
			return
		}
		if again := encodeTxBatch(raws); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
