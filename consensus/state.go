package consensus

import "fmt"

// stateVersion is the only State encoding this code reads.
const stateVersion = 1

// maxSignedRecords bounds the signed records of one height in a decoded
// State: three per round (proposal, prevote, precommit) for far more rounds
// than a height ever takes.
const maxSignedRecords = 3 * 100_000

// EncodeState returns the durable encoding of a State without its
// payloads: the driver stores the payloads of LockedBlock and ValidBlock
// itself (they are blocks it already keeps) and puts them back after
// DecodeState. Layout: version u8, height u64, round u64, step u8, locked
// round u64, locked block [32], valid round u64, valid block [32], a
// presence byte and the valid round's certificate (EncodeQC, length
// prefixed), u32 count of signed records, each kind u8, round u64, block
// [32].
func EncodeState(s *State) []byte {
	e := enc{b: make([]byte, 0, 128+45*len(s.Signed))}
	e.u8(stateVersion)
	e.u64(s.Height)
	e.u64(s.Round)
	e.u8(uint8(s.Step))
	e.u64(s.LockedRound)
	e.hash(s.LockedBlock)
	e.u64(s.ValidRound)
	e.hash(s.ValidBlock)
	if s.ValidQC != nil {
		e.u8(1)
		e.blob(EncodeQC(s.ValidQC))
	} else {
		e.u8(0)
	}
	e.u32(uint32(len(s.Signed)))
	for _, r := range s.Signed {
		e.u8(r.Kind)
		e.u64(r.Round)
		e.hash(r.BlockID)
	}
	return e.b
}

// DecodeState decodes what EncodeState wrote. LockedPayload and
// ValidPayload are nil.
func DecodeState(b []byte) (*State, error) {
	d := dec{b: b}
	if v := d.u8(); d.err == nil && v != stateVersion {
		return nil, fmt.Errorf("%w: consensus state version %d, want %d", ErrDecode, v, stateVersion)
	}
	s := &State{}
	s.Height = d.u64()
	s.Round = d.u64()
	s.Step = Step(d.u8())
	if d.err == nil && s.Step > StepPrecommit {
		d.fail("unknown step %d", s.Step)
	}
	s.LockedRound = d.u64()
	s.LockedBlock = d.hash()
	s.ValidRound = d.u64()
	s.ValidBlock = d.hash()
	switch d.u8() {
	case 0:
	case 1:
		if raw := d.blob(maxBitmapBytes+maxSigBytes+128, "certificate"); d.err == nil {
			qc, err := DecodeQC(raw)
			if err != nil {
				return nil, err
			}
			s.ValidQC = qc
		}
	default:
		d.fail("bad certificate presence byte")
	}
	n := d.u32()
	if d.err == nil && n > maxSignedRecords {
		d.fail("%d signed records exceed %d", n, maxSignedRecords)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		r := signed{Kind: d.u8(), Round: d.u64(), BlockID: d.hash()}
		if d.err == nil && (r.Kind < signedProposal || r.Kind > signedPrecommit) {
			d.fail("unknown signed kind %d", r.Kind)
		}
		s.Signed = append(s.Signed, r)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if s.LockedRound == NoRound && s.LockedBlock != (Hash{}) {
		return nil, fmt.Errorf("%w: a lock block without a lock round", ErrDecode)
	}
	return s, nil
}
