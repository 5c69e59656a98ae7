package consensus

import (
	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
	"github.com/bizra/node0/internal/codec"
)

// Wire encoding: big-endian fixed-width integers, u32-length-prefixed byte
// strings, a presence byte before an optional certificate (package
// internal/codec). A message is its kind, the sender index and its body; a
// decoder accepts exactly one encoding of each value, and copies every byte
// string it returns, so a decoded message shares nothing with its input.
//
// Every byte string has a limit, checked before anything is allocated for
// it. Each is derived from what the field must hold:
const (
	// maxValidators is the largest validator set whose certificates the
	// encoding carries (about a million, chain.MaxValidators, which a
	// genesis may not exceed): NewValidatorSet refuses a larger one,
	// whose certificates would not decode.
	maxValidators = chain.MaxValidators

	// maxBitmapBytes bounds a signer bitmap: one bit per validator of the
	// largest set, 131,072 bytes.
	maxBitmapBytes = maxValidators / 8

	// maxSigBytes bounds a signature, one validator's or an aggregate. The
	// Crypto interface does not fix the scheme: a BLS12-381 signature is 96
	// bytes compressed (bls.SignatureSize) and 192 uncompressed, a test
	// scheme's is 32. 256 holds each of them.
	maxSigBytes = 256

	// qcFixedBytes are the fields of a certificate other than its byte
	// strings: type u8, height u64, round u64, block [32] and the two u32
	// lengths.
	qcFixedBytes = 1 + 8 + 8 + 32 + 2*codec.PrefixSize

	// maxQCBytes is the largest certificate encoding (131,385 bytes): the
	// limit of the certificate in a State, and the chain's limit of the
	// certificate stored with a block.
	maxQCBytes = qcFixedBytes + maxBitmapBytes + maxSigBytes

	// maxPayloadBytes bounds a proposal's payload, a chain block
	// encoding. The chain format bounds a block only by a genesis's limits
	// (up to 10^6 transactions of up to 128 KiB each, far more than a u32
	// length), so the bound is that of the transport: a proposal travels
	// as one network message, and a node accepts none above 32 MiB (the
	// ceiling of p2p.max_message_bytes, p2p.MaxSyncResponseBytes).
	maxPayloadBytes = 32 << 20
)

// The limits agree with the formats they serve: a certificate consensus
// encodes fits a chain block (and no chain certificate is larger than a
// certificate consensus decodes), and a BLS signature fits maxSigBytes.
// A change that breaks one of these fails to compile (a negative constant
// does not convert to uint).
const (
	_ = uint(chain.MaxCertBytes - maxQCBytes)
	_ = uint(maxQCBytes - chain.MaxCertBytes)
	_ = uint(maxSigBytes - bls.SignatureSize)
)

func newDecoder(b []byte) codec.Decoder { return codec.NewDecoder(b, ErrDecode) }

func voteType(d *codec.Decoder, what string) VoteType {
	t := VoteType(d.U8(what))
	if d.Err() == nil && t != Prevote && t != Precommit {
		d.Failf(what, "unknown vote type %d", t)
	}
	return t
}

func encodeQC(e *codec.Encoder, q *QC) {
	e.U8(uint8(q.Type))
	e.U64(q.Height)
	e.U64(q.Round)
	e.Hash(q.BlockID)
	e.Blob(q.Signers)
	e.Blob(q.Sig)
}

func decodeQC(d *codec.Decoder) *QC {
	q := &QC{}
	q.Type = voteType(d, "certificate type")
	q.Height = d.U64("certificate height")
	q.Round = d.U64("certificate round")
	q.BlockID = d.Hash("certificate block")
	q.Signers = d.BlobCopy("certificate signer bitmap", maxBitmapBytes)
	q.Sig = d.BlobCopy("certificate signature", maxSigBytes)
	return q
}

// qcSize is the length of a certificate's encoding.
func qcSize(q *QC) int { return qcFixedBytes + len(q.Signers) + len(q.Sig) }

// EncodeQC returns the encoding of a certificate, as stored with a block.
func EncodeQC(q *QC) []byte {
	e := codec.NewEncoder(make([]byte, 0, qcSize(q)))
	encodeQC(&e, q)
	return e.Bytes()
}

// DecodeQC decodes what EncodeQC wrote.
func DecodeQC(b []byte) (*QC, error) {
	d := newDecoder(b)
	q := decodeQC(&d)
	if err := d.Finish("certificate"); err != nil {
		return nil, err
	}
	return q, nil
}

// EncodedSize returns the length of the message's encoding.
func (m *Message) EncodedSize() int {
	n := 1 + 4
	switch m.Kind {
	case KindProposal:
		p := m.Proposal
		n += 8 + 8 + 32 + 8 + 1 + 4 + 2*codec.PrefixSize + len(p.Payload) + len(p.Sig)
		if p.POL != nil {
			n += qcSize(p.POL)
		}
	case KindVote:
		n += 1 + 8 + 8 + 32 + 4 + codec.PrefixSize + len(m.Vote.Sig)
	case KindAggregate, KindQC:
		n += qcSize(m.QC)
	case KindTimeout:
		n += 8 + 8 + 4 + codec.PrefixSize + len(m.Timeout.Sig)
	case KindTC:
		n += 8 + 8 + 2*codec.PrefixSize + len(m.TC.Signers) + len(m.TC.Sig)
	}
	return n
}

// Encode returns the wire encoding of a message.
func (m *Message) Encode() []byte { return m.AppendEncode(make([]byte, 0, m.EncodedSize())) }

// AppendEncode appends the wire encoding of a message to dst, for a caller
// that frames it (EncodedSize sizes dst).
func (m *Message) AppendEncode(dst []byte) []byte {
	e := codec.NewEncoder(dst)
	e.U8(uint8(m.Kind))
	e.U32(m.From)
	switch m.Kind {
	case KindProposal:
		p := m.Proposal
		e.U64(p.Height)
		e.U64(p.Round)
		e.Hash(p.BlockID)
		e.U64(p.ValidRound)
		e.Bool(p.POL != nil)
		if p.POL != nil {
			encodeQC(&e, p.POL)
		}
		e.U32(p.Proposer)
		e.Blob(p.Payload)
		e.Blob(p.Sig)
	case KindVote:
		v := m.Vote
		e.U8(uint8(v.Type))
		e.U64(v.Height)
		e.U64(v.Round)
		e.Hash(v.BlockID)
		e.U32(v.Validator)
		e.Blob(v.Sig)
	case KindAggregate, KindQC:
		encodeQC(&e, m.QC)
	case KindTimeout:
		t := m.Timeout
		e.U64(t.Height)
		e.U64(t.Round)
		e.U32(t.Validator)
		e.Blob(t.Sig)
	case KindTC:
		t := m.TC
		e.U64(t.Height)
		e.U64(t.Round)
		e.Blob(t.Signers)
		e.Blob(t.Sig)
	}
	return e.Bytes()
}

// DecodeMessage decodes a wire message. It checks the encoding only;
// signatures and membership are the core's to check.
func DecodeMessage(b []byte) (*Message, error) {
	d := newDecoder(b)
	m := &Message{Kind: Kind(d.U8("message kind")), From: d.U32("sender")}
	switch m.Kind {
	case KindProposal:
		p := &Proposal{Height: d.U64("proposal height"), Round: d.U64("proposal round"), BlockID: d.Hash("proposal block"), ValidRound: d.U64("proposal valid round")}
		if d.Bool("proof of lock flag") {
			p.POL = decodeQC(&d)
		}
		p.Proposer = d.U32("proposer")
		p.Payload = d.BlobCopy("proposal payload", maxPayloadBytes)
		p.Sig = d.BlobCopy("proposal signature", maxSigBytes)
		m.Proposal = p
	case KindVote:
		m.Vote = &Vote{Type: voteType(&d, "vote type"), Height: d.U64("vote height"), Round: d.U64("vote round"), BlockID: d.Hash("vote block"), Validator: d.U32("vote validator")}
		m.Vote.Sig = d.BlobCopy("vote signature", maxSigBytes)
	case KindAggregate, KindQC:
		m.QC = decodeQC(&d)
	case KindTimeout:
		m.Timeout = &Timeout{Height: d.U64("timeout height"), Round: d.U64("timeout round"), Validator: d.U32("timeout validator")}
		m.Timeout.Sig = d.BlobCopy("timeout signature", maxSigBytes)
	case KindTC:
		m.TC = &TC{Height: d.U64("timeout certificate height"), Round: d.U64("timeout certificate round")}
		m.TC.Signers = d.BlobCopy("timeout certificate signer bitmap", maxBitmapBytes)
		m.TC.Sig = d.BlobCopy("timeout certificate signature", maxSigBytes)
	default:
		d.Failf("message kind", "unknown kind %d", m.Kind)
	}
	if err := d.Finish("message"); err != nil {
		return nil, err
	}
	return m, nil
}
