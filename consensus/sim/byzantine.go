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
		// A second block for the other half, properly signed.
		p := *m.Proposal
		p.Payload = s.payload(p.Height, p.Round, p.Proposer)
		p.BlockID = chain.Keccak256(p.Payload)
		p.ValidRound, p.POL = consensus.NoRound, nil
		p.Sig = n.crypto.Sign(consensus.ProposalSignBytes(chainTag, p.Height, p.Round, p.BlockID, p.ValidRound))
		alt := &consensus.Message{Kind: consensus.KindProposal, From: m.From, Proposal: &p}
		half := len(to) / 2
		s.trace("tick %d: v%d equivocates at %d/%d", s.now, n.idx, p.Height, p.Round)
		return []routed{{m, to[:half]}, {alt, to[half:]}}
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
	}
	return plain
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
