package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func sampleStates() []*State {
	qc := &QC{Type: Prevote, Height: 9, Round: 2, BlockID: Hash{7}, Signers: Bitmap{0x0f}, Sig: bytes.Repeat([]byte{3}, 96)}
	return []*State{
		{Height: 1, LockedRound: NoRound, ValidRound: NoRound},
		{
			Height: 9, Round: 3, Step: StepPrecommit,
			LockedRound: 2, LockedBlock: Hash{7}, ValidRound: 2, ValidBlock: Hash{7}, ValidQC: qc,
			Signed: []signed{{signedPrevote, 2, Hash{7}}, {signedPrecommit, 2, Hash{7}}, {signedProposal, 3, Hash{8}}},
		},
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, s := range sampleStates() {
		b := EncodeState(s)
		got, err := DecodeState(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
		}
		// Every strict prefix is an error, never a shorter state.
		for i := range b {
			if _, err := DecodeState(b[:i]); !errors.Is(err, ErrDecode) {
				t.Fatalf("prefix of %d bytes: %v", i, err)
			}
		}
		if _, err := DecodeState(append(b, 0)); !errors.Is(err, ErrDecode) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestDecodeStateRejects(t *testing.T) {
	good := EncodeState(sampleStates()[1])
	mutate := func(at int, v byte) []byte {
		b := bytes.Clone(good)
		b[at] = v
		return b
	}
	cases := map[string][]byte{
		"version":                  mutate(0, 2),
		"step":                     mutate(1+8+8, 3),
		"presence":                 mutate(1+8+8+1+8+32+8+32, 2),
		"lock block without round": EncodeState(&State{Height: 1, LockedRound: NoRound, LockedBlock: Hash{1}, ValidRound: NoRound}),
		"signed kind":              EncodeState(&State{Height: 1, LockedRound: NoRound, ValidRound: NoRound, Signed: []signed{{9, 0, Hash{}}}}),
	}
	for name, b := range cases {
		if _, err := DecodeState(b); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: %v, want ErrDecode", name, err)
		}
	}
}

// TestDecodeStateLimits checks the limits of the State encoding at their
// value (refused only for want of input) and one above.
func TestDecodeStateLimits(t *testing.T) {
	good := EncodeState(sampleStates()[1])
	const certAt = 1 + 8 + 8 + 1 + 8 + 32 + 8 + 32 + 1
	certLen := int(binary.BigEndian.Uint32(good[certAt:]))
	countAt := certAt + 4 + certLen
	if int(binary.BigEndian.Uint32(good[countAt:])) != len(sampleStates()[1].Signed) {
		t.Fatal("the record count is not where the test expects it")
	}
	tests := []struct {
		name string
		enc  []byte
		want string
	}{
		{"certificate at the limit", lengthAt(good, certAt, maxQCBytes), fmt.Sprintf("valid certificate: length %d exceeds the remaining 0 bytes", maxQCBytes)},
		{"certificate over the limit", lengthAt(good, certAt, maxQCBytes+1), fmt.Sprintf("valid certificate: length %d exceeds the limit of %d bytes", maxQCBytes+1, maxQCBytes)},
		{"records at the limit", lengthAt(good, countAt, maxSignedRecords), fmt.Sprintf("signed record count: count %d of at least %d bytes each exceeds the remaining 0 bytes", maxSignedRecords, signedRecordSize)},
		{"records over the limit", lengthAt(good, countAt, maxSignedRecords+1), fmt.Sprintf("signed record count: count %d exceeds the limit of %d", maxSignedRecords+1, maxSignedRecords)},
		{"records over the input", append(lengthAt(good, countAt, 2), make([]byte, 2*signedRecordSize-1)...), "exceeds the remaining 81 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeState(tt.enc)
			if s != nil || !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want ErrDecode with %q", s, err, tt.want)
			}
		})
	}
	// A certificate of the largest size fits the state's limit.
	big := sampleStates()[1]
	big.ValidQC.Signers = make(Bitmap, maxBitmapBytes)
	big.ValidQC.Sig = make([]byte, maxSigBytes)
	if got, err := DecodeState(EncodeState(big)); err != nil || !reflect.DeepEqual(got, big) {
		t.Fatalf("state with the largest certificate: %v", err)
	}
	if n := len(EncodeQC(big.ValidQC)); n != maxQCBytes {
		t.Fatalf("largest certificate is %d bytes, maxQCBytes %d", n, maxQCBytes)
	}
}

func FuzzDecodeState(f *testing.F) {
	for _, s := range sampleStates() {
		f.Add(EncodeState(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			return
		}
		again := EncodeState(s)
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded state re-encodes differently:\n in %x\nout %x", b, again)
		}
	})
}

// benchState is the state a validator persists before every message it
// signs, late in a height that took 30 rounds.
func benchState() *State {
	s := sampleStates()[1]
	s.ValidQC.Signers = make(Bitmap, 1000/8)
	for r := range uint64(30) {
		s.Signed = append(s.Signed, signed{signedPrevote, r, Hash{byte(r)}}, signed{signedPrecommit, r, Hash{byte(r)}})
	}
	return s
}

func BenchmarkEncodeState(b *testing.B) {
	s := benchState()
	for b.Loop() {
		_ = EncodeState(s)
	}
}

func BenchmarkDecodeState(b *testing.B) {
	enc := EncodeState(benchState())
	for b.Loop() {
		if _, err := DecodeState(enc); err != nil {
			b.Fatal(err)
		}
	}
}
