package driver

import (
	"testing"

	"github.com/bizra/node0/consensus"
)

// BenchmarkStepForeignVote is what a validator's driver and core spend on
// a vote that is not theirs to collect (neither the round's leader nor
// its committee's aggregator): the node hands the core every vote it
// accepts, and the core's rules drop such a vote before any signature
// check.
func BenchmarkStepForeignVote(b *testing.B) {
	f := newFixture(b, nonLeader(b))
	leader := f.leader(1, 0)
	var voter uint32
	for voter == leader || voter == f.cfg.Core.Self {
		voter++
	}
	block := consensus.Hash{1}
	v := &consensus.Vote{Type: consensus.Prevote, Height: 1, Round: 0, BlockID: block, Validator: voter,
		Sig: testSig(voter, consensus.VoteSignBytes(chainTag, consensus.Prevote, 1, 0, block))}
	m := &consensus.Message{Kind: consensus.KindVote, From: voter, Vote: v}
	for b.Loop() {
		if err := f.d.Step(m); err != nil {
			b.Fatal(err)
		}
	}
}
