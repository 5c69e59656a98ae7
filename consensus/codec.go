package consensus

import (
	"encoding/binary"
	"fmt"
)

// Limits of the wire encoding.
const (
	maxSigBytes     = 256
	maxBitmapBytes  = 1 << 17 // a million validators
	maxPayloadBytes = 256 << 20
)

// Wire encoding: big-endian fixed-width integers, u32-length-prefixed byte
// strings, a presence byte before an optional certificate. A message is its
// kind, the sender index and its body; a decoder accepts exactly one
// encoding of each value.

type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) hash(h Hash)  { e.b = append(e.b, h[:]...) }
func (e *enc) blob(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrDecode, fmt.Sprintf(format, args...))
	}
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *dec) hash() (h Hash) {
	copy(h[:], d.take(32))
	return h
}

func (d *dec) blob(limit int, what string) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(limit) {
		d.fail("%s of %d bytes exceeds %d", what, n, limit)
		return nil
	}
	v := d.take(int(n))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *dec) voteType() VoteType {
	t := VoteType(d.u8())
	if d.err == nil && t != Prevote && t != Precommit {
		d.fail("unknown vote type %d", t)
	}
	return t
}

func (e *enc) qc(q *QC) {
	e.u8(uint8(q.Type))
	e.u64(q.Height)
	e.u64(q.Round)
	e.hash(q.BlockID)
	e.blob(q.Signers)
	e.blob(q.Sig)
}

func (d *dec) qc() *QC {
	q := &QC{}
	q.Type = d.voteType()
	q.Height = d.u64()
	q.Round = d.u64()
	q.BlockID = d.hash()
	q.Signers = d.blob(maxBitmapBytes, "signer bitmap")
	q.Sig = d.blob(maxSigBytes, "signature")
	return q
}

// EncodeQC returns the encoding of a certificate, as stored with a block.
func EncodeQC(q *QC) []byte {
	e := enc{}
	e.qc(q)
	return e.b
}

// DecodeQC decodes what EncodeQC wrote.
func DecodeQC(b []byte) (*QC, error) {
	d := dec{b: b}
	q := d.qc()
	if err := d.finish(); err != nil {
		return nil, err
	}
	return q, nil
}

func (d *dec) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// Encode returns the wire encoding of a message.
func (m *Message) Encode() []byte {
	e := enc{}
	e.u8(uint8(m.Kind))
	e.u32(m.From)
	switch m.Kind {
	case KindProposal:
		p := m.Proposal
		e.u64(p.Height)
		e.u64(p.Round)
		e.hash(p.BlockID)
		e.u64(p.ValidRound)
		if p.POL != nil {
			e.u8(1)
			e.qc(p.POL)
		} else {
			e.u8(0)
		}
		e.u32(p.Proposer)
		e.blob(p.Payload)
		e.blob(p.Sig)
	case KindVote:
		v := m.Vote
		e.u8(uint8(v.Type))
		e.u64(v.Height)
		e.u64(v.Round)
		e.hash(v.BlockID)
		e.u32(v.Validator)
		e.blob(v.Sig)
	case KindAggregate, KindQC:
		e.qc(m.QC)
	case KindTimeout:
		t := m.Timeout
		e.u64(t.Height)
		e.u64(t.Round)
		e.u32(t.Validator)
		e.blob(t.Sig)
	case KindTC:
		t := m.TC
		e.u64(t.Height)
		e.u64(t.Round)
		e.blob(t.Signers)
		e.blob(t.Sig)
	}
	return e.b
}

// DecodeMessage decodes a wire message. It checks the encoding only;
// signatures and membership are the core's to check.
func DecodeMessage(b []byte) (*Message, error) {
	d := dec{b: b}
	m := &Message{Kind: Kind(d.u8()), From: d.u32()}
	switch m.Kind {
	case KindProposal:
		p := &Proposal{Height: d.u64(), Round: d.u64(), BlockID: d.hash(), ValidRound: d.u64()}
		switch d.u8() {
		case 0:
		case 1:
			p.POL = d.qc()
		default:
			d.fail("bad certificate flag")
		}
		p.Proposer = d.u32()
		p.Payload = d.blob(maxPayloadBytes, "payload")
		p.Sig = d.blob(maxSigBytes, "signature")
		m.Proposal = p
	case KindVote:
		m.Vote = &Vote{Type: d.voteType(), Height: d.u64(), Round: d.u64(), BlockID: d.hash(), Validator: d.u32()}
		m.Vote.Sig = d.blob(maxSigBytes, "signature")
	case KindAggregate, KindQC:
		m.QC = d.qc()
	case KindTimeout:
		m.Timeout = &Timeout{Height: d.u64(), Round: d.u64(), Validator: d.u32()}
		m.Timeout.Sig = d.blob(maxSigBytes, "signature")
	case KindTC:
		m.TC = &TC{Height: d.u64(), Round: d.u64()}
		m.TC.Signers = d.blob(maxBitmapBytes, "signer bitmap")
		m.TC.Sig = d.blob(maxSigBytes, "signature")
	default:
		d.fail("unknown message kind %d", m.Kind)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return m, nil
}
