package driver

import (
	"bytes"
	"testing"
	"time"

	"github.com/bizra/node0/consensus"
)

// altered is a copy of a proposal with another payload: the leader's
// BlockID and signature, which do not cover the payload, and junk where
// its block was. Anyone who sees the proposal can make one.
func altered(m *consensus.Message, payload []byte) *consensus.Message {
	p := *m.Proposal
	p.Payload = payload
	return &consensus.Message{Kind: m.Kind, From: m.From, Proposal: &p}
}

// forged is a proposal of a block the round's leader never made, bound to
// its payload but signed by someone else.
func (f *fixture) forged(h, r uint64, nonce byte) *consensus.Message {
	m := f.proposal(h, r, nonce, nil)
	m.Proposal.Sig = testSig(m.Proposal.Proposer+1, consensus.ProposalSignBytes(chainTag, h, r, m.Proposal.BlockID, consensus.NoRound))
	return m
}

// prevotedFor lists the blocks prevoted at height h.
func (f *fixture) prevotedFor(h uint64) []consensus.Hash {
	var out []consensus.Hash
	for _, v := range f.world.sent(consensus.KindVote, consensus.Prevote) {
		if v.Vote.Height == h {
			out = append(out, v.Vote.BlockID)
		}
	}
	return out
}

// TestCopiesBeforeTheRealProposal: what reaches a validator before the
// leader's proposal cannot use up the blocks it executes for the round, so
// the real one is prevoted and the round decides.
func TestCopiesBeforeTheRealProposal(t *testing.T) {
	for _, c := range []struct {
		name   string
		before func(f *fixture, real *consensus.Message) []*consensus.Message
	}{
		{"two altered copies", func(f *fixture, real *consensus.Message) []*consensus.Message {
			other := f.proposal(1, 0, 9, nil).Proposal.Payload // a block that decodes, not the one signed
			return []*consensus.Message{altered(real, []byte("junk")), altered(real, other)}
		}},
		{"many altered copies", func(f *fixture, real *consensus.Message) []*consensus.Message {
			var out []*consensus.Message
			for i := range 20 {
				out = append(out, altered(real, f.proposal(1, 0, byte(10+i), nil).Proposal.Payload))
			}
			return out
		}},
		{"blocks the leader did not sign", func(f *fixture, _ *consensus.Message) []*consensus.Message {
			return []*consensus.Message{f.forged(1, 0, 7), f.forged(1, 0, 8), f.forged(1, 0, 9)}
		}},
		{"copies of the real one", func(_ *fixture, real *consensus.Message) []*consensus.Message {
			return []*consensus.Message{real, real, real}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nonLeader(t))
			real := f.proposal(1, 0, 1, nil)
			for _, m := range c.before(f, real) {
				if err := f.d.Step(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.d.Step(real); err != nil {
				t.Fatal(err)
			}
			if got := f.prevotedFor(1); len(got) != 1 || got[0] != real.Proposal.BlockID {
				t.Fatalf("prevotes at height 1: %v, want the leader's block %s (executed %d blocks)", got, real.Proposal.BlockID, f.chain.executed)
			}
			qc := f.commitQC(1, 0, real.Proposal.BlockID)
			if err := f.d.Step(&consensus.Message{Kind: consensus.KindQC, From: f.leader(1, 0), QC: qc}); err != nil {
				t.Fatal(err)
			}
			if len(f.chain.log) != 1 || f.chain.log[0].ID() != real.Proposal.BlockID {
				t.Fatalf("committed %d blocks; want the leader's", len(f.chain.log))
			}
			if f.chain.executed > 1 {
				t.Fatalf("executed %d blocks for a round with one genuine proposal", f.chain.executed)
			}
		})
	}
}

// TestHeldProposalsAreBoundAndDeduplicated: the proposals held for the
// next height take a slot only when they are the round leader's, signed,
// and bound to their payload, once per (proposer, round, block); neither
// altered copies nor copies of one proposal crowd out the real one.
func TestHeldProposalsAreBoundAndDeduplicated(t *testing.T) {
	for _, c := range []struct {
		name   string
		before func(f *fixture, real *consensus.Message) []*consensus.Message
	}{
		{"altered copies", func(f *fixture, real *consensus.Message) []*consensus.Message {
			var out []*consensus.Message
			for i := range 2 * DefaultMaxHeldProposals {
				out = append(out, altered(real, append(bytes.Clone(real.Proposal.Payload), byte(i))))
			}
			return out
		}},
		{"forged blocks", func(f *fixture, _ *consensus.Message) []*consensus.Message {
			var out []*consensus.Message
			for i := range 2 * DefaultMaxHeldProposals {
				out = append(out, f.forged(2, 0, byte(100+i)))
			}
			return out
		}},
		{"copies of another round's proposal", func(f *fixture, _ *consensus.Message) []*consensus.Message {
			other := f.proposal(2, 1, 50, func(h *Header) { h.Timestamp++ })
			var out []*consensus.Message
			for range 2 * DefaultMaxHeldProposals {
				out = append(out, other)
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nonLeader(t))
			p1 := f.proposal(1, 0, 1, nil)
			p2 := f.proposal(2, 0, 2, func(h *Header) { h.Timestamp++ })
			for _, m := range c.before(f, p2) {
				if err := f.d.Step(m); err != nil {
					t.Fatal(err)
				}
			}
			if len(f.d.held) > 2 {
				t.Fatalf("%d proposals held after the junk, want at most 2", len(f.d.held))
			}
			if err := f.d.Step(p2); err != nil {
				t.Fatal(err)
			}
			if err := f.d.Step(p1); err != nil {
				t.Fatal(err)
			}
			qc := f.commitQC(1, 0, p1.Proposal.BlockID)
			if err := f.d.Step(&consensus.Message{Kind: consensus.KindQC, From: f.leader(1, 0), QC: qc}); err != nil {
				t.Fatal(err)
			}
			if got := f.prevotedFor(2); len(got) != 1 || got[0] != p2.Proposal.BlockID {
				t.Fatalf("prevotes at height 2: %v, want the held proposal's block", got)
			}
		})
	}
}

// TestFailedBlockCountsOnce: a bound block that does not execute is not
// executed again when it comes back, and uses one unit of the round's
// budget however often it arrives.
func TestFailedBlockCountsOnce(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	bad := f.proposal(1, 0, 1, nil)
	f.chain.bad = map[consensus.Hash]bool{bad.Proposal.BlockID: true}
	for range 5 {
		if err := f.d.Step(bad); err != nil {
			t.Fatal(err)
		}
	}
	if f.chain.executed != 1 {
		t.Fatalf("executed the failing block %d times", f.chain.executed)
	}
	good := f.proposal(1, 0, 2, nil)
	if err := f.d.Step(good); err != nil {
		t.Fatal(err)
	}
	if got := f.prevotedFor(1); len(got) != 1 || got[0] != good.Proposal.BlockID {
		t.Fatalf("prevotes %v, want the second block (the budget holds two)", got)
	}
}

// TestBlockAheadOfTheClockWaits: a block whose timestamp is past this
// validator's clock and drift is refused without using the budget, and
// prevoted when it comes again once the clock has caught up.
func TestBlockAheadOfTheClockWaits(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	ahead := uint64(DefaultMaxClockDrift.Milliseconds()) + 50
	early := f.proposal(1, 0, 1, func(h *Header) { h.Timestamp += ahead })
	for range 2 * DefaultMaxProposalsPerRound {
		if err := f.d.Step(early); err != nil {
			t.Fatal(err)
		}
	}
	if f.chain.executed != 0 || len(f.prevotedFor(1)) != 0 {
		t.Fatalf("executed %d, prevoted %v: a block ahead of the clock", f.chain.executed, f.prevotedFor(1))
	}
	f.clock.t = f.clock.t.Add(100 * time.Millisecond)
	if err := f.d.Step(early); err != nil {
		t.Fatal(err)
	}
	if got := f.prevotedFor(1); len(got) != 1 || got[0] != early.Proposal.BlockID {
		t.Fatalf("prevotes %v once the clock caught up, want the block", got)
	}
}
