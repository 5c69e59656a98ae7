package sim

import (
	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// misbehave turns one outgoing message of a validator into what its fault
// makes it send. Honest validators (and twins, whose fault is running
// twice) send the message as it is.
func (s *simulation) misbehave(n *node, m *consensus.Message, to []uint32) []routed {
	plain := []routed{{m, to}}
	switch n.fault {
	case Equivocate:
		if m.Kind != consensus.KindProposal || len(to) < 2 {
			return plain
		}
		alt := s.otherProposal(n, m)
		half := len(to) / 2
		s.trace("tick %d: v%d equivocates at %d/%d", s.now, n.idx, m.Proposal.Height, m.Proposal.Round)
		return []routed{{m, to[:half]}, {alt, to[half:]}}
	case Forge:
		if m.Kind != consensus.KindProposal || len(to) < 2 {
			return plain
		}
		alt := s.otherProposal(n, m)
		half := len(to) / 2
		s.trace("tick %d: v%d equivocates at %d/%d with forged commit certificates", s.now, n.idx, m.Proposal.Height, m.Proposal.Round)
		out := []routed{{m, to[:half]}, {alt, to[half:]}}
		for _, r := range out[:2] {
			for _, qc := range s.forgeries(n, r.msg.Proposal) {
				out = append(out, routed{&consensus.Message{Kind: consensus.KindQC, From: m.From, QC: qc}, r.to})
			}
		}
		return out
	case DoubleVote:
		if m.Kind != consensus.KindVote {
			return plain
		}
		v := *m.Vote
		v.BlockID = chain.Keccak256(v.BlockID[:], []byte("other"))
		v.Sig = n.crypto.Sign(consensus.VoteSignBytes(chainTag, v.Type, v.Height, v.Round, v.BlockID))
		return []routed{{m, to}, {&consensus.Message{Kind: consensus.KindVote, From: m.From, Vote: &v}, to}}
	case BadSignatures:
		if s.rng.IntN(10) == 0 {
			return plain
		}
		return []routed{{corrupt(m), to}}
	case Withhold:
		if m.Kind == consensus.KindVote || m.Kind == consensus.KindAggregate {
			return nil
		}
	case BadAggregator:
		if m.Kind != consensus.KindAggregate {
			return plain
		}
		if s.rng.IntN(2) == 0 {
			return nil
		}
		return []routed{{corrupt(m), to}}
	case Mute:
		if m.Kind == consensus.KindProposal {
			return nil
		}
	case Flood:
		if m.Kind != consensus.KindProposal || m.Proposal.Proposer != uint32(n.idx) {
			return plain
		}
		out := plain
		for range floodProposals {
			out = append(out, routed{s.otherProposal(n, m), to})
		}
		s.trace("tick %d: v%d floods %d/%d with %d more blocks", s.now, n.idx, m.Proposal.Height, m.Proposal.Round, floodProposals)
		return out
	case LockAttack:
		return s.lockAttackSends(n, m, to)
	}
	return plain
}

// otherProposal is a second block for the same height and round, properly
// signed.
func (s *simulation) otherProposal(n *node, m *consensus.Message) *consensus.Message {
	p := *m.Proposal
	ts := uint64(simClock{s}.Now().UnixMilli())
	if b, err := decodeBlock(m.Proposal.Payload); err == nil {
		ts = b.header.Timestamp
	}
	p.Payload = s.payload(p.Height, p.Round, p.Proposer, ts)
	p.BlockID = chain.Keccak256(p.Payload)
	p.ValidRound, p.POL = consensus.NoRound, nil
	p.Sig = n.crypto.Sign(consensus.ProposalSignBytes(chainTag, p.Height, p.Round, p.BlockID, p.ValidRound))
	return &consensus.Message{Kind: consensus.KindProposal, From: m.From, Proposal: &p}
}

// forgeries are two false commit certificates for a proposal's block: one
// naming every validator, with a bogus signature; one with a valid
// signature, the forger's own, alone.
func (s *simulation) forgeries(n *node, p *consensus.Proposal) []*consensus.QC {
	msg := consensus.VoteSignBytes(chainTag, consensus.Precommit, p.Height, p.Round, p.BlockID)
	own := n.crypto.Sign(msg)
	all := consensus.NewBitmap(s.vals.Len())
	for i := range s.vals.Len() {
		all.Set(uint32(i))
	}
	alone := consensus.NewBitmap(s.vals.Len())
	alone.Set(uint32(n.idx))
	return []*consensus.QC{
		{Type: consensus.Precommit, Height: p.Height, Round: p.Round, BlockID: p.BlockID, Signers: all, Sig: own},
		{Type: consensus.Precommit, Height: p.Height, Round: p.Round, BlockID: p.BlockID, Signers: alone, Sig: own},
	}
}

// corrupt returns a copy of m with a flipped signature bit.
func corrupt(m *consensus.Message) *consensus.Message {
	flip := func(sig []byte) []byte {
		out := append([]byte(nil), sig...)
		if len(out) > 0 {
			out[0] ^= 1
		}
		return out
	}
	c := *m
	switch m.Kind {
	case consensus.KindProposal:
		p := *m.Proposal
		p.Sig = flip(p.Sig)
		c.Proposal = &p
	case consensus.KindVote:
		v := *m.Vote
		v.Sig = flip(v.Sig)
		c.Vote = &v
	case consensus.KindAggregate, consensus.KindQC:
		q := *m.QC
		q.Sig = flip(q.Sig)
		c.QC = &q
	case consensus.KindTimeout:
		t := *m.Timeout
		t.Sig = flip(t.Sig)
		c.Timeout = &t
	case consensus.KindTC:
		t := *m.TC
		t.Sig = flip(t.Sig)
		c.TC = &t
	}
	return &c
}

// attacker is what a LockAttack validator has learnt at its height:
// blocks proposed and prevote certificates, and the votes it has cast
// outside its core.
type attacker struct {
	payloads map[consensus.Hash][]byte
	pols     map[uint64]map[uint64]*consensus.QC // height → round → prevote certificate
	cast     map[signedID]bool
}

func newAttacker() *attacker {
	return &attacker{payloads: map[consensus.Hash][]byte{}, pols: map[uint64]map[uint64]*consensus.QC{}, cast: map[signedID]bool{}}
}

func (a *attacker) learn(m *consensus.Message) {
	switch {
	case m.Kind == consensus.KindProposal && validProposal(m.Proposal):
		a.payloads[m.Proposal.BlockID] = m.Proposal.Payload
		if m.Proposal.POL != nil {
			a.learnPOL(m.Proposal.POL)
		}
	case m.Kind == consensus.KindQC && m.QC.Type == consensus.Prevote:
		a.learnPOL(m.QC)
	}
}

func (a *attacker) learnPOL(qc *consensus.QC) {
	if a.pols[qc.Height] == nil {
		a.pols[qc.Height] = map[uint64]*consensus.QC{}
	}
	if _, ok := a.pols[qc.Height][qc.Round]; !ok {
		a.pols[qc.Height][qc.Round] = qc
	}
}

// oldest returns the prevote certificate of the lowest round before r at
// height h whose block the attacker has.
func (a *attacker) oldest(h, r uint64) *consensus.QC {
	var best *consensus.QC
	for round, qc := range a.pols[h] {
		if _, ok := a.payloads[qc.BlockID]; ok && round < r && (best == nil || round < best.Round) {
			best = qc
		}
	}
	return best
}

// attackOn is a LockAttack validator receiving a message: it learns from
// it, and votes for any proposal's block and any prevote certificate's
// block, lock or no lock.
func (s *simulation) attackOn(n *node, m *consensus.Message) {
	a := n.attack
	a.learn(m)
	switch {
	case m.Kind == consensus.KindProposal && validProposal(m.Proposal):
		s.castVote(n, consensus.Prevote, m.Proposal.Height, m.Proposal.Round, m.Proposal.BlockID)
	case m.Kind == consensus.KindQC && m.QC.Type == consensus.Prevote:
		if _, ok := a.payloads[m.QC.BlockID]; ok {
			s.castVote(n, consensus.Precommit, m.QC.Height, m.QC.Round, m.QC.BlockID)
		}
	}
}

// castVote signs a vote outside the validator's core and sends it to every
// validator, itself included.
func (s *simulation) castVote(n *node, t consensus.VoteType, h, r uint64, block consensus.Hash) {
	kind := signedPrevote
	if t == consensus.Precommit {
		kind = signedPrecommit
	}
	id := signedID{sigKey{h, r, kind}, block}
	if n.attack.cast[id] || n.crashed {
		return
	}
	n.attack.cast[id] = true
	v := &consensus.Vote{Type: t, Height: h, Round: r, BlockID: block, Validator: uint32(n.idx)}
	v.Sig = n.crypto.Sign(consensus.VoteSignBytes(chainTag, t, h, r, block))
	m := &consensus.Message{Kind: consensus.KindVote, From: uint32(n.idx), Vote: v}
	for i := range s.nodes {
		if i != n.idx {
			s.transmit(n.idx, 0, i, m)
		}
	}
	s.stepInto(n, 0, m)
}

// lockAttackSends is what a LockAttack validator's core sends, rewritten:
// its own proposal becomes the block of the oldest prevote certificate it
// knows, with that certificate.
func (s *simulation) lockAttackSends(n *node, m *consensus.Message, to []uint32) []routed {
	a := n.attack
	a.learn(m)
	if m.Kind != consensus.KindProposal {
		return []routed{{m, to}}
	}
	p := *m.Proposal
	if pol := a.oldest(p.Height, p.Round); pol != nil && pol.BlockID != p.BlockID {
		p.BlockID, p.Payload, p.ValidRound, p.POL = pol.BlockID, a.payloads[pol.BlockID], pol.Round, pol
		p.Sig = n.crypto.Sign(consensus.ProposalSignBytes(chainTag, p.Height, p.Round, p.BlockID, p.ValidRound))
		s.trace("tick %d: v%d proposes at %d/%d the block of the certificate of round %d", s.now, n.idx, p.Height, p.Round, pol.Round)
		m = &consensus.Message{Kind: consensus.KindProposal, From: m.From, Proposal: &p}
	}
	s.castVote(n, consensus.Prevote, p.Height, p.Round, p.BlockID)
	return []routed{{m, to}}
}

// usurp makes a Usurp validator propose a block of its own, once per round
// it does not lead.
func (s *simulation) usurp(n *node) {
	d := n.driver(0)
	if n.fault != Usurp || d == nil {
		return
	}
	h, r := d.Height(), d.Round()
	if int(s.vals.Proposer(h, r)) == n.idx || n.usurped == [2]uint64{h + 1, r} {
		return
	}
	n.usurped = [2]uint64{h + 1, r}
	_, parent := n.machines[0].chain.Head()
	payload := s.payload(h, r, uint32(n.idx), s.timestampAfter(parent))
	p := &consensus.Proposal{Height: h, Round: r, BlockID: chain.Keccak256(payload), Payload: payload, ValidRound: consensus.NoRound, Proposer: uint32(n.idx)}
	p.Sig = n.crypto.Sign(consensus.ProposalSignBytes(chainTag, h, r, p.BlockID, p.ValidRound))
	m := &consensus.Message{Kind: consensus.KindProposal, From: uint32(n.idx), Proposal: p}
	for i := range s.nodes {
		if i != n.idx {
			s.transmit(n.idx, 0, i, m)
		}
	}
}
