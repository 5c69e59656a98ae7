package consensus

import (
	"fmt"

	"github.com/bizra/node0/internal/codec"
)

// stateVersion is the only State encoding this code reads.
const stateVersion = 1

// Limits of the State encoding, besides its certificate (maxQCBytes).
const (
	// maxSignedRecords bounds the signed records of one height in a
	// decoded State: at most three per round (a proposal, a prevote, a
	// precommit), for 100,000 rounds, which at the default longest round
	// timeout of a minute is more than two months at one height.
	maxSignedRecords = 3 * 100_000

	// signedRecordSize is the encoding of one signed record: kind u8,
	// round u64, block [32].
	signedRecordSize = 1 + 8 + 32

	// stateFixedBytes are the fields of a State before its certificate and
	// records, with the presence byte and the record count.
	stateFixedBytes = 1 + 8 + 8 + 1 + 8 + 32 + 8 + 32 + 1 + 4
)

// EncodeState returns the durable encoding of a State without its
// payloads: the driver stores the payloads of LockedBlock and ValidBlock
// itself (they are blocks it already keeps) and puts them back after
// DecodeState. Layout: version u8, height u64, round u64, step u8, locked
// round u64, locked block [32], valid round u64, valid block [32], a
// presence byte and the valid round's certificate (EncodeQC, length
// prefixed, at most maxQCBytes), u32 count of signed records (at most
// maxSignedRecords), each kind u8, round u64, block [32].
func EncodeState(s *State) []byte {
	n := stateFixedBytes + signedRecordSize*len(s.Signed)
	if s.ValidQC != nil {
		n += codec.PrefixSize + qcSize(s.ValidQC)
	}
	e := codec.NewEncoder(make([]byte, 0, n))
	e.U8(stateVersion)
	e.U64(s.Height)
	e.U64(s.Round)
	e.U8(uint8(s.Step))
	e.U64(s.LockedRound)
	e.Hash(s.LockedBlock)
	e.U64(s.ValidRound)
	e.Hash(s.ValidBlock)
	e.Bool(s.ValidQC != nil)
	if s.ValidQC != nil {
		e.U32(uint32(qcSize(s.ValidQC)))
		encodeQC(&e, s.ValidQC)
	}
	e.U32(uint32(len(s.Signed)))
	for _, r := range s.Signed {
		e.U8(r.Kind)
		e.U64(r.Round)
		e.Hash(r.BlockID)
	}
	return e.Bytes()
}

// DecodeState decodes what EncodeState wrote. LockedPayload and
// ValidPayload are nil.
func DecodeState(b []byte) (*State, error) {
	d := newDecoder(b)
	if v := d.U8("state version"); d.Err() == nil && v != stateVersion {
		d.Failf("state version", "%d, want %d", v, stateVersion)
	}
	s := &State{}
	s.Height = d.U64("state height")
	s.Round = d.U64("state round")
	s.Step = Step(d.U8("state step"))
	if d.Err() == nil && s.Step > StepPrecommit {
		d.Failf("state step", "unknown step %d", s.Step)
	}
	s.LockedRound = d.U64("locked round")
	s.LockedBlock = d.Hash("locked block")
	s.ValidRound = d.U64("valid round")
	s.ValidBlock = d.Hash("valid block")
	if d.Bool("valid certificate presence") {
		// The certificate's own decoder copies what it keeps, so the
		// length-prefixed string around it need not be copied.
		if raw := d.BlobAlias("valid certificate", maxQCBytes); d.Err() == nil {
			qc, err := DecodeQC(raw)
			if err != nil {
				return nil, err
			}
			s.ValidQC = qc
		}
	}
	if n := d.Count("signed record count", maxSignedRecords, signedRecordSize); n > 0 {
		s.Signed = make([]signed, n)
		for i := range s.Signed {
			r := &s.Signed[i]
			r.Kind = d.U8("signed record kind")
			r.Round = d.U64("signed record round")
			r.BlockID = d.Hash("signed record block")
			if d.Err() == nil && (r.Kind < signedProposal || r.Kind > signedPrecommit) {
				d.Failf("signed record kind", "unknown kind %d", r.Kind)
			}
		}
	}
	if err := d.Finish("consensus state"); err != nil {
		return nil, err
	}
	if s.LockedRound == NoRound && s.LockedBlock != (Hash{}) {
		return nil, fmt.Errorf("%w: a lock block without a lock round", ErrDecode)
	}
	return s, nil
}
