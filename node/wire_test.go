package node

import (
	"bytes"
	"errors"
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

func TestWireRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		to   []uint32
	}{
		{"broadcast", nil},
		{"to the leader", []uint32{2}},
		{"to two", []uint32{0, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := sampleVote()
			to, got, err := decodeWire(encodeWire(c.to, m))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(to, c.to) || !bytes.Equal(got.Encode(), m.Encode()) {
				t.Fatalf("got to %v %+v", to, got)
			}
		})
	}
}

func TestWireRejects(t *testing.T) {
	good := encodeWire([]uint32{1}, sampleVote())
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:2]},
		{"another version", append([]byte{9}, good[1:]...)},
		{"the version with a region byte", append([]byte{1, 0}, good[1:]...)},
		{"recipients beyond the end", append([]byte{wireVersion, 0, 50}, good[3:]...)},
		{"too many recipients", append(append([]byte{wireVersion, 0xff, 0xff}, make([]byte, 4*65535)...), good[7:]...)},
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

// FuzzDecodeWire: whatever decodes re-encodes to the same bytes.
func FuzzDecodeWire(f *testing.F) {
	f.Add(encodeWire(nil, sampleVote()))
	f.Add(encodeWire([]uint32{1, 2}, sampleVote()))
	f.Add([]byte{wireVersion, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		to, m, err := decodeWire(b)
		if err != nil {
			return
		}
		if again := encodeWire(to, m); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
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
