package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bizra/node0/chain"
)

var update = flag.Bool("update", false, "rewrite the seed corpus files in testdata/fuzz from the sample messages")

var testChainTag = chain.Keccak256([]byte("bizra consensus test chain"))

// sample is a real message: signed with the deterministic test keys, with
// certificates that verify.
type sample struct {
	name string
	msg  *Message
}

// sampleMessages returns a message of every kind, and of every variant of
// a kind the encoding tells apart, made as a core makes them.
func sampleMessages(tb testing.TB) []sample {
	tb.Helper()
	const n = 7
	set, sks := testSet(tb, equalStakes(n))
	c := mustBLSCrypto(tb, nil, set)
	block := chain.Keccak256([]byte("block"))
	const height, round = 12, 3

	qc := func(t VoteType, r uint64, members ...int) *QC {
		msg := VoteSignBytes(testChainTag, t, height, r, block)
		return &QC{Type: t, Height: height, Round: r, BlockID: block, Signers: bitmapOf(n, members...), Sig: aggregateOf(tb, c, sks, msg, members...)}
	}
	vote := func(t VoteType, v int) *Message {
		return &Message{Kind: KindVote, From: uint32(v), Vote: &Vote{
			Type: t, Height: height, Round: round, BlockID: block, Validator: uint32(v),
			Sig: sks[v].Sign(VoteSignBytes(testChainTag, t, height, round, block)).Bytes(),
		}}
	}
	proposal := func(payload []byte, validRound uint64, pol *QC) *Message {
		id := chain.Keccak256(payload)
		leader := set.Proposer(height, round)
		return &Message{Kind: KindProposal, From: leader, Proposal: &Proposal{
			Height: height, Round: round, BlockID: id, Payload: payload, ValidRound: validRound, POL: pol, Proposer: leader,
			Sig: sks[leader].Sign(ProposalSignBytes(testChainTag, height, round, id, validRound)).Bytes(),
		}}
	}
	timeoutMsg := TimeoutSignBytes(testChainTag, height, round)
	pol := qc(Prevote, 1, 0, 1, 2, 4, 6)
	pol.BlockID = chain.Keccak256([]byte("payload with a POL"))
	pol.Sig = aggregateOf(tb, c, sks, VoteSignBytes(testChainTag, Prevote, height, 1, pol.BlockID), 0, 1, 2, 4, 6)
	return []sample{
		{"proposal", proposal([]byte("payload: a chain block"), NoRound, nil)},
		{"proposal-pol", proposal([]byte("payload with a POL"), 1, pol)},
		{"prevote", vote(Prevote, 2)},
		{"precommit", vote(Precommit, 5)},
		{"aggregate", &Message{Kind: KindAggregate, From: 3, QC: qc(Prevote, round, 1, 3, 5)}},
		{"qc-prevote", &Message{Kind: KindQC, From: 4, QC: qc(Prevote, round, 0, 1, 2, 3, 5)}},
		{"qc-precommit", &Message{Kind: KindQC, From: 0, QC: qc(Precommit, round, rangeOf(0, n)...)}},
		{"timeout", &Message{Kind: KindTimeout, From: 6, Timeout: &Timeout{Height: height, Round: round, Validator: 6, Sig: sks[6].Sign(timeoutMsg).Bytes()}}},
		{"tc", &Message{Kind: KindTC, From: 1, TC: &TC{Height: height, Round: round, Signers: bitmapOf(n, 0, 1, 2, 3, 4), Sig: aggregateOf(tb, c, sks, timeoutMsg, 0, 1, 2, 3, 4)}}},
	}
}

// edgeMessages are valid encodings at the edges of the format: empty
// byte strings (which decode as nil), byte strings at their size limits,
// the largest integers.
func edgeMessages() []sample {
	const max64, max32 = ^uint64(0), ^uint32(0)
	sig := bytes.Repeat([]byte{0xa5}, maxSigBytes)
	return []sample{
		{"edge-empty-certificate", &Message{Kind: KindQC, QC: &QC{Type: Precommit}}},
		{"edge-empty-proposal", &Message{Kind: KindProposal, Proposal: &Proposal{ValidRound: NoRound}}},
		{"edge-empty-pol", &Message{Kind: KindProposal, Proposal: &Proposal{POL: &QC{Type: Prevote}}}},
		{"edge-empty-tc", &Message{Kind: KindTC, TC: &TC{}}},
		{"edge-largest-integers", &Message{Kind: KindVote, From: max32, Vote: &Vote{Type: Precommit, Height: max64, Round: max64, Validator: max32, BlockID: Hash{0: 0xff, 31: 0xff}}}},
		{"edge-signature-at-limit", &Message{Kind: KindTimeout, From: 1, Timeout: &Timeout{Height: 1, Round: max64, Validator: 1, Sig: sig}}},
		{"edge-aggregate-no-signature", &Message{Kind: KindAggregate, From: 2, QC: &QC{Type: Prevote, Signers: Bitmap{0, 0, 0x80}}}},
	}
}

// sampleQCs returns the certificates in the sample and edge messages:
// aggregates, quorum certificates and proofs of lock.
func sampleQCs(tb testing.TB) []sample {
	var out []sample
	for _, s := range append(sampleMessages(tb), edgeMessages()...) {
		switch {
		case s.msg.QC != nil:
			out = append(out, sample{s.name, s.msg})
		case s.msg.Proposal != nil && s.msg.Proposal.POL != nil:
			out = append(out, sample{s.name, &Message{QC: s.msg.Proposal.POL}})
		}
	}
	return out
}

func TestMessageRoundTrip(t *testing.T) {
	kinds := map[Kind]bool{}
	for _, s := range append(sampleMessages(t), edgeMessages()...) {
		t.Run(s.name, func(t *testing.T) {
			kinds[s.msg.Kind] = true
			enc := s.msg.Encode()
			got, err := DecodeMessage(enc)
			if err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, s.msg)
			}
		})
	}
	for k := KindProposal; k <= KindTC; k++ {
		if !kinds[k] {
			t.Errorf("no sample message of kind %d", k)
		}
	}
	t.Run("bitmap at the size limit", func(t *testing.T) {
		m := &Message{Kind: KindTC, TC: &TC{Signers: make(Bitmap, maxBitmapBytes)}}
		m.TC.Signers[maxBitmapBytes-1] = 1
		if got, err := DecodeMessage(m.Encode()); err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("DecodeMessage = %v; want the message back", err)
		}
	})
}

func TestQCRoundTrip(t *testing.T) {
	for _, s := range sampleQCs(t) {
		t.Run(s.name, func(t *testing.T) {
			got, err := DecodeQC(EncodeQC(s.msg.QC))
			if err != nil {
				t.Fatalf("DecodeQC: %v", err)
			}
			if !reflect.DeepEqual(got, s.msg.QC) {
				t.Errorf("decoded %+v, want %+v", got, s.msg.QC)
			}
		})
	}
}

// TestDecodeRejects checks that every strict prefix, any extension and
// each malformed field of a valid encoding fail to decode, with ErrDecode
// and no value.
func TestDecodeRejects(t *testing.T) {
	samples := sampleMessages(t)
	for _, s := range samples {
		enc := s.msg.Encode()
		for i := range enc {
			if m, err := DecodeMessage(enc[:i]); err == nil || m != nil {
				t.Errorf("%s: prefix of %d of %d bytes decoded: %+v, %v", s.name, i, len(enc), m, err)
			}
		}
		if _, err := DecodeMessage(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: trailing byte: err %v, want ErrDecode", s.name, err)
		}
	}
	for _, s := range sampleQCs(t) {
		enc := EncodeQC(s.msg.QC)
		for i := range enc {
			if q, err := DecodeQC(enc[:i]); err == nil || q != nil {
				t.Errorf("%s: QC prefix of %d of %d bytes decoded: %+v, %v", s.name, i, len(enc), q, err)
			}
		}
		if _, err := DecodeQC(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: QC with a trailing byte: err %v, want ErrDecode", s.name, err)
		}
	}

	byName := map[string][]byte{}
	for _, s := range samples {
		byName[s.name] = s.msg.Encode()
	}
	// edit returns a copy of a sample's encoding with bytes replaced at off.
	edit := func(name string, off int, b ...byte) []byte {
		out := bytes.Clone(byName[name])
		copy(out[off:], b)
		return out
	}
	const head = 1 + 4 // kind, sender
	const polFlag = head + 8 + 8 + 32 + 8
	tests := []struct {
		name string
		enc  []byte
	}{
		{"empty", nil},
		{"kind zero", edit("prevote", 0, 0)},
		{"unknown kind", edit("prevote", 0, byte(KindTC)+1)},
		{"vote type zero", edit("prevote", head, 0)},
		{"unknown vote type", edit("prevote", head, 3)},
		{"certificate type unknown", edit("qc-prevote", head, 9)},
		{"certificate flag 2", edit("proposal", polFlag, 2)},
		{"certificate flag 1 without one", edit("proposal", polFlag, 1)},
		{"POL with a bad type", edit("proposal-pol", polFlag+1, 7)},
		{"signature longer than the limit", edit("prevote", head+1+8+8+32+4, 0, 0, 1, 1)},
		{"signature length beyond the input", edit("timeout", head+8+8+4, 0, 0, 0, 97)},
		{"signature length 2^32-1", edit("timeout", head+8+8+4, 0xff, 0xff, 0xff, 0xff)},
		{"bitmap longer than the limit", edit("tc", head+8+8, 0, 2, 0, 1)},
		{"payload longer than the limit", edit("proposal", polFlag+1+4, 0x10, 0, 0, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.enc)
			if !errors.Is(err, ErrDecode) || m != nil {
				t.Errorf("DecodeMessage = %+v, %v; want ErrDecode", m, err)
			}
		})
	}
}

// lengthAt returns enc cut at off, followed by the u32 length n and
// nothing else: a byte string that claims n bytes.
func lengthAt(enc []byte, off int, n uint32) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(enc[:off]), n)
}

// TestDecodeLimits checks the limit of every byte string of the wire
// encoding at its value (refused only for want of input) and one above
// (refused for the limit, whatever follows).
func TestDecodeLimits(t *testing.T) {
	byName := map[string]*Message{}
	for _, s := range sampleMessages(t) {
		byName[s.name] = s.msg
	}
	const head = 1 + 4
	const polFlag = head + 8 + 8 + 32 + 8
	const qcBitmap = head + 1 + 8 + 8 + 32
	qcSig := qcBitmap + 4 + len(byName["qc-prevote"].QC.Signers)
	proposalSig := polFlag + 1 + 4 + 4 + len(byName["proposal"].Proposal.Payload)
	tcSig := head + 8 + 8 + 4 + len(byName["tc"].TC.Signers)
	tests := []struct {
		field  string
		sample string
		off    int
		limit  int
	}{
		{"vote signature", "prevote", head + 1 + 8 + 8 + 32 + 4, maxSigBytes},
		{"timeout signature", "timeout", head + 8 + 8 + 4, maxSigBytes},
		{"proposal payload", "proposal", polFlag + 1 + 4, maxPayloadBytes},
		{"certificate signer bitmap", "qc-prevote", qcBitmap, maxBitmapBytes},
		{"certificate signature", "qc-prevote", qcSig, maxSigBytes},
		{"timeout certificate signer bitmap", "tc", head + 8 + 8, maxBitmapBytes},
		{"proposal signature", "proposal", proposalSig, maxSigBytes},
		{"timeout certificate signature", "tc", tcSig, maxSigBytes},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			for n, want := range map[int]string{
				tt.limit:     fmt.Sprintf("%s: length %d exceeds the remaining 0 bytes", tt.field, tt.limit),
				tt.limit + 1: fmt.Sprintf("%s: length %d exceeds the limit of %d bytes", tt.field, tt.limit+1, tt.limit),
			} {
				m, err := DecodeMessage(lengthAt(byName[tt.sample].Encode(), tt.off, uint32(n)))
				if m != nil || !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), want) {
					t.Errorf("length %d: got %v, %v; want ErrDecode with %q", n, m, err, want)
				}
			}
		})
	}
}

// TestEncodedSize checks that the encoders size their buffer exactly.
func TestEncodedSize(t *testing.T) {
	for _, s := range append(append(sampleMessages(t), edgeMessages()...), benchMessages()...) {
		if enc := s.msg.Encode(); len(enc) != cap(enc) || len(enc) != s.msg.EncodedSize() {
			t.Errorf("%s: encoding of %d bytes, buffer of %d, encodedSize %d", s.name, len(enc), cap(enc), s.msg.EncodedSize())
		}
	}
	for _, s := range sampleQCs(t) {
		if enc := EncodeQC(s.msg.QC); len(enc) != cap(enc) {
			t.Errorf("%s: certificate of %d bytes in a buffer of %d", s.name, len(enc), cap(enc))
		}
	}
	for _, s := range append(sampleStates(), benchState()) {
		if enc := EncodeState(s); len(enc) != cap(enc) {
			t.Errorf("state of %d bytes in a buffer of %d", len(enc), cap(enc))
		}
	}
}

// checkMessageEncoding is the round-trip property of the wire encoding:
// whatever decodes is the one encoding of its value, so it re-encodes to
// the same bytes, which decode to an equal message.
func checkMessageEncoding(t *testing.T, b []byte) {
	m, err := DecodeMessage(b)
	if err != nil {
		if m != nil || !errors.Is(err, ErrDecode) {
			t.Fatalf("DecodeMessage failed with %v and message %+v; want ErrDecode and nil", err, m)
		}
		return
	}
	bodies := 0
	for _, set := range []bool{m.Proposal != nil, m.Vote != nil, m.QC != nil, m.Timeout != nil, m.TC != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 {
		t.Fatalf("decoded message of kind %d has %d bodies", m.Kind, bodies)
	}
	enc := m.Encode()
	if !bytes.Equal(enc, b) {
		t.Fatalf("re-encoding differs:\n in %x\nout %x", b, enc)
	}
	again, err := DecodeMessage(enc)
	if err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, m) {
		t.Fatalf("decoded twice:\n%+v\n%+v", m, again)
	}
	if again.Height() != m.Height() {
		t.Fatalf("heights differ")
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range sampleMessages(f) {
		f.Add(s.msg.Encode())
	}
	f.Fuzz(checkMessageEncoding)
}

func FuzzDecodeQC(f *testing.F) {
	for _, s := range sampleQCs(f) {
		f.Add(EncodeQC(s.msg.QC))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeQC(b)
		if err != nil {
			if q != nil || !errors.Is(err, ErrDecode) {
				t.Fatalf("DecodeQC failed with %v and certificate %+v; want ErrDecode and nil", err, q)
			}
			return
		}
		enc := EncodeQC(q)
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, enc)
		}
		again, err := DecodeQC(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, q) {
			t.Fatalf("decoded twice:\n%+v\n%+v", q, again)
		}
		// A certificate is a valid aggregate or committee-certificate body.
		checkMessageEncoding(t, append([]byte{byte(KindQC), 0, 0, 0, 9}, b...))
	})
}

// TestFuzzSeedCorpus keeps the seed files in testdata/fuzz equal to the
// encodings of the sample messages, so that they stay real messages when
// the encoding changes; -update rewrites them. Inputs the fuzzer found are
// kept beside them under their hash names and are not touched.
func TestFuzzSeedCorpus(t *testing.T) {
	corpus := map[string][]sample{
		"FuzzDecodeMessage": append(sampleMessages(t), edgeMessages()...),
		"FuzzDecodeQC":      sampleQCs(t),
	}
	for target, samples := range corpus {
		for _, s := range samples {
			enc := s.msg.Encode()
			if target == "FuzzDecodeQC" {
				enc = EncodeQC(s.msg.QC)
			}
			path := filepath.Join("testdata", "fuzz", target, "seed-"+s.name)
			want := corpusFile(enc)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run go test ./consensus -run TestFuzzSeedCorpus -update)", err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is not the encoding of the sample %s (run with -update)", path, s.name)
			}
		}
	}
}

// corpusFile is a fuzz corpus file of one []byte argument, in the format
// of `go test -fuzz`.
func corpusFile(b []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
}

// TestCorpusFileFormat reads a corpus file back the way the fuzzing engine
// does for []byte, so that a change in corpusFile cannot go unnoticed.
func TestCorpusFileFormat(t *testing.T) {
	in := []byte{0, 1, 0x7f, 0x80, 0xff, '"', '\\', 'a', 0xe2, 0x82, 0xac}
	lines := strings.Split(string(corpusFile(in)), "\n")
	if len(lines) != 3 || lines[0] != "go test fuzz v1" || lines[2] != "" {
		t.Fatalf("corpus file lines %q", lines)
	}
	lit, ok := strings.CutPrefix(lines[1], "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if !ok || !ok2 {
		t.Fatalf("corpus file value %q", lines[1])
	}
	out, err := strconv.Unquote(lit)
	if err != nil || out != string(in) {
		t.Fatalf("corpus value reads back as %q, %v; want %q", out, err, in)
	}
}

// benchMessages are messages of the sizes the node sends most: a vote, a
// precommit certificate of 1,000 validators, and a proposal carrying a
// block of 20,000 transfers (about 2.3 MB).
func benchMessages() []sample {
	sig := bytes.Repeat([]byte{0x96}, 96)
	signers := make(Bitmap, 1000/8)
	for i := range signers {
		signers[i] = 0xff
	}
	block := Hash{0xb1}
	return []sample{
		{"vote", &Message{Kind: KindVote, From: 7, Vote: &Vote{Type: Prevote, Height: 1e6, Round: 0, BlockID: block, Validator: 7, Sig: sig}}},
		{"qc-1000", &Message{Kind: KindQC, From: 3, QC: &QC{Type: Precommit, Height: 1e6, Round: 0, BlockID: block, Signers: signers, Sig: sig}}},
		{"proposal-2MB", &Message{Kind: KindProposal, From: 3, Proposal: &Proposal{
			Height: 1e6, Round: 1, BlockID: block, ValidRound: 0, Proposer: 3, Sig: sig, Payload: bytes.Repeat([]byte{0x11}, 20_000*114),
			POL: &QC{Type: Prevote, Height: 1e6, Round: 0, BlockID: block, Signers: signers, Sig: sig},
		}}},
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	for _, s := range benchMessages() {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.msg.Encode())))
			for b.Loop() {
				_ = s.msg.Encode()
			}
		})
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	for _, s := range benchMessages() {
		b.Run(s.name, func(b *testing.B) {
			enc := s.msg.Encode()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := DecodeMessage(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeQC(b *testing.B) {
	enc := EncodeQC(benchMessages()[1].msg.QC)
	for b.Loop() {
		if _, err := DecodeQC(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// A set larger than certificates can name is refused where it is made.
func TestValidatorSetBound(t *testing.T) {
	vals := make([]Validator, maxValidators+1)
	for i := range vals {
		vals[i] = Validator{Name: "v", PubKey: []byte{1}, Stake: 1}
	}
	if _, err := NewValidatorSet(vals); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a set of %d: %v", len(vals), err)
	}
	if _, err := NewValidatorSet(vals[:maxValidators]); err != nil {
		t.Fatalf("a set of %d: %v", maxValidators, err)
	}
}
