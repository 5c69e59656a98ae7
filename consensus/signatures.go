package consensus

import "fmt"

// The signature rules, written once: the core checks messages with them,
// and so does whatever checks a message before relaying it (the node's
// gossip validators), block sync and `bizra verify`.

// CheckSignature checks the signature a message carries against the
// validator set: a proposal's by its proposer, a vote's or a timeout's by
// the validator it names, an aggregate's, a certificate's or a timeout
// certificate's by the members of its signer bitmap (which must have the
// set's size and at least one member). It checks nothing else: whether the
// message is timely, from the round's leader, or a quorum is the core's
// business.
func CheckSignature(chainTag Hash, vals *ValidatorSet, crypto Crypto, m *Message) error {
	if int(m.From) >= vals.Len() {
		return ErrNotValidator
	}
	switch {
	case m.Kind == KindProposal && m.Proposal != nil:
		return checkProposal(chainTag, vals, crypto, m.Proposal)
	case m.Kind == KindVote && m.Vote != nil:
		v := m.Vote
		return checkSingle(vals, crypto, v.Validator, VoteSignBytes(chainTag, v.Type, v.Height, v.Round, v.BlockID), v.Sig)
	case (m.Kind == KindAggregate || m.Kind == KindQC) && m.QC != nil:
		q := m.QC
		return checkAggregate(vals, crypto, q.Signers, VoteSignBytes(chainTag, q.Type, q.Height, q.Round, q.BlockID), q.Sig)
	case m.Kind == KindTimeout && m.Timeout != nil:
		t := m.Timeout
		return checkSingle(vals, crypto, t.Validator, TimeoutSignBytes(chainTag, t.Height, t.Round), t.Sig)
	case m.Kind == KindTC && m.TC != nil:
		t := m.TC
		return checkAggregate(vals, crypto, t.Signers, TimeoutSignBytes(chainTag, t.Height, t.Round), t.Sig)
	}
	return ErrDecode
}

// VerifyQC checks a quorum certificate outside a core (a block's stored
// certificate, one arriving with a synced block): its signers hold more
// than two thirds of the stake and its aggregate signature verifies.
func VerifyQC(chainTag Hash, vals *ValidatorSet, crypto Crypto, qc *QC) error {
	if len(qc.Signers) != bitmapLen(vals) || !vals.IsQuorum(vals.StakeOf(qc.Signers)) {
		return ErrNoQuorum
	}
	return checkAggregate(vals, crypto, qc.Signers, VoteSignBytes(chainTag, qc.Type, qc.Height, qc.Round, qc.BlockID), qc.Sig)
}

// VerifyTC checks a timeout certificate: its signers hold more than two
// thirds of the stake and its aggregate signature verifies.
func VerifyTC(chainTag Hash, vals *ValidatorSet, crypto Crypto, tc *TC) error {
	if len(tc.Signers) != bitmapLen(vals) || !vals.IsQuorum(vals.StakeOf(tc.Signers)) {
		return ErrNoQuorum
	}
	return checkAggregate(vals, crypto, tc.Signers, TimeoutSignBytes(chainTag, tc.Height, tc.Round), tc.Sig)
}

// POLFits checks that a proposal's proof of lock fits it, without checking
// its signatures (VerifyQC does): none when the proposal names no valid
// round; otherwise a prevote certificate of the proposal's height, valid
// round (before its round) and block.
func POLFits(p *Proposal) error {
	q := p.POL
	if q == nil {
		if p.ValidRound != NoRound {
			return fmt.Errorf("%w: valid round without a certificate", ErrNoQuorum)
		}
		return nil
	}
	if q.Type != Prevote || q.Height != p.Height || q.Round != p.ValidRound || q.BlockID != p.BlockID || p.ValidRound >= p.Round {
		return fmt.Errorf("%w: proposal's certificate does not match it", ErrNoQuorum)
	}
	return nil
}

func bitmapLen(vals *ValidatorSet) int { return (vals.Len() + 7) / 8 }

func checkProposal(chainTag Hash, vals *ValidatorSet, crypto Crypto, p *Proposal) error {
	return checkSingle(vals, crypto, p.Proposer, ProposalSignBytes(chainTag, p.Height, p.Round, p.BlockID, p.ValidRound), p.Sig)
}

func checkSingle(vals *ValidatorSet, crypto Crypto, signer uint32, msg, sig []byte) error {
	if int(signer) >= vals.Len() {
		return ErrNotValidator
	}
	if !crypto.Verify(signer, msg, sig) {
		return ErrBadSignature
	}
	return nil
}

func checkAggregate(vals *ValidatorSet, crypto Crypto, signers Bitmap, msg, sig []byte) error {
	if len(signers) != bitmapLen(vals) || signers.Count() == 0 {
		return ErrNoQuorum
	}
	if !crypto.VerifyAggregate(signers, msg, sig) {
		return ErrBadSignature
	}
	return nil
}
