package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/bls"
	"github.com/bizra/node0/p2p"
)

// The gossip validator's rules, with real BLS keys.

// countingCrypto counts the checks that reach BLS.
type countingCrypto struct {
	consensus.Crypto
	pairings int
}

func (c *countingCrypto) Verify(i uint32, msg, sig []byte) bool {
	c.pairings++
	return c.Crypto.Verify(i, msg, sig)
}

func (c *countingCrypto) VerifyAggregate(signers consensus.Bitmap, msg, sig []byte) bool {
	c.pairings++
	return c.Crypto.VerifyAggregate(signers, msg, sig)
}

// gossipRig is a validator's gossip checks over n equal validators with
// deterministic BLS keys, in committees of one epoch.
type gossipRig struct {
	t      testing.TB
	sks    []*bls.SecretKey
	vals   *consensus.ValidatorSet
	tag    consensus.Hash
	bls    *countingCrypto
	crypto *consensus.VerifyCache
	comms  *consensus.Committees
	head   uint64
	check  *gossipCheck
}

func newGossipRig(t testing.TB, n, committees int) *gossipRig {
	t.Helper()
	r := &gossipRig{t: t, tag: chain.Keccak256([]byte("gossip test chain")), head: 10}
	var vs []consensus.Validator
	for i := range n {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		h := chain.Keccak256([]byte("bizra node gossip test key"), b[:])
		h[0] &= 0x3f
		sk, err := bls.SecretKeyFromBytes(h[:])
		if err != nil {
			t.Fatal(err)
		}
		r.sks = append(r.sks, sk)
		vs = append(vs, consensus.Validator{Name: fmt.Sprint("v", i), PubKey: sk.PublicKey().Bytes(), Stake: 100})
	}
	var err error
	if r.vals, err = consensus.NewValidatorSet(vs); err != nil {
		t.Fatal(err)
	}
	bc, err := consensus.NewBLSCrypto(nil, r.vals)
	if err != nil {
		t.Fatal(err)
	}
	r.bls = &countingCrypto{Crypto: bc}
	r.crypto = consensus.NewVerifyCache(r.bls, 0)
	// A seed whose committees all have members.
	for s := byte(0); ; s++ {
		r.comms = r.vals.Assign(consensus.Hash{s}, committees)
		full := true
		for k := range r.comms.Count() {
			full = full && len(r.comms.Members(k)) > 0
		}
		if full {
			break
		}
	}
	const epochLength = 1000
	r.check = newGossipCheck(0, r.tag, r.vals, r.crypto, func() uint64 { return r.head }, func() *consensus.Committees { return r.comms }, epochLength, newBoundBlocks(), newGossipMetrics(nil, r.crypto))
	return r
}

func (r *gossipRig) vote(i uint32, t consensus.VoteType, h, round uint64, block consensus.Hash) *consensus.Message {
	v := &consensus.Vote{Type: t, Height: h, Round: round, BlockID: block, Validator: i}
	v.Sig = r.sks[i].Sign(consensus.VoteSignBytes(r.tag, t, h, round, block)).Bytes()
	return &consensus.Message{Kind: consensus.KindVote, Vote: v}
}

func (r *gossipRig) timeout(i uint32, h, round uint64) *consensus.Message {
	t := &consensus.Timeout{Height: h, Round: round, Validator: i}
	t.Sig = r.sks[i].Sign(consensus.TimeoutSignBytes(r.tag, h, round)).Bytes()
	return &consensus.Message{Kind: consensus.KindTimeout, Timeout: t}
}

// aggregate is the aggregate signature of msg by signers.
func (r *gossipRig) aggregate(msg []byte, signers ...uint32) (consensus.Bitmap, []byte) {
	bm := consensus.NewBitmap(r.vals.Len())
	var sigs []*bls.Signature
	for _, i := range signers {
		bm.Set(i)
		sigs = append(sigs, r.sks[i].Sign(msg))
	}
	agg, err := bls.AggregateSignatures(sigs)
	if err != nil {
		r.t.Fatal(err)
	}
	return bm, agg.Bytes()
}

func (r *gossipRig) qc(t consensus.VoteType, h, round uint64, block consensus.Hash, signers ...uint32) *consensus.QC {
	bm, sig := r.aggregate(consensus.VoteSignBytes(r.tag, t, h, round, block), signers...)
	return &consensus.QC{Type: t, Height: h, Round: round, BlockID: block, Signers: bm, Sig: sig}
}

func (r *gossipRig) tc(h, round uint64, signers ...uint32) *consensus.Message {
	bm, sig := r.aggregate(consensus.TimeoutSignBytes(r.tag, h, round), signers...)
	return &consensus.Message{Kind: consensus.KindTC, TC: &consensus.TC{Height: h, Round: round, Signers: bm, Sig: sig}}
}

// block is a chain block of height h with txs, its root in its header.
func block(h uint64, txs ...[]byte) *chain.Block {
	b := &chain.Block{Header: chain.Header{ChainID: 1, Height: h, Timestamp: 1000 + h}, Txs: txs}
	b.Header.TxRoot = chain.MerkleRoot(b.TxHashes())
	return b
}

// proposal is the round leader's signed proposal of blk, its payload as
// given (the block's encoding when nil).
func (r *gossipRig) proposal(round uint64, blk *chain.Block, payload []byte, validRound uint64, pol *consensus.QC) *consensus.Message {
	h := blk.Header.Height
	if payload == nil {
		payload = blk.Encode()
	}
	l := r.vals.Proposer(h, round)
	p := &consensus.Proposal{Height: h, Round: round, BlockID: blk.Hash(), Payload: payload, ValidRound: validRound, POL: pol, Proposer: l}
	p.Sig = r.sks[l].Sign(consensus.ProposalSignBytes(r.tag, h, round, p.BlockID, validRound)).Bytes()
	return &consensus.Message{Kind: consensus.KindProposal, Proposal: p}
}

// gossipStep is one message offered to the validator and what it must say.
type gossipStep struct {
	m        *consensus.Message
	attempt  uint8
	topic    string // topicOf(m.Kind) when empty
	subnet   int    // -1 unless set with onSubnet
	verdict  p2p.Verdict
	reason   string
	pairings int // -1: any
}

func step(m *consensus.Message, v p2p.Verdict, reason string, pairings int) gossipStep {
	return gossipStep{m: m, subnet: -1, verdict: v, reason: reason, pairings: pairings}
}

func (s gossipStep) again(attempt uint8) gossipStep { s.attempt = attempt; return s }
func (s gossipStep) on(topic string) gossipStep     { s.topic = topic; return s }
func (s gossipStep) onSubnet(k int) gossipStep      { s.topic, s.subnet = topicVotes, k; return s }

func (r *gossipRig) run(steps []gossipStep) {
	r.t.Helper()
	for i, s := range steps {
		topic := s.topic
		if topic == "" {
			topic = topicOf(s.m.Kind)
		}
		before := r.bls.pairings
		kind, v, reason := r.check.check(topic, s.subnet, encodeWire(s.attempt, s.m))
		if kind != s.m.Kind || v != s.verdict || reason != s.reason {
			r.t.Fatalf("step %d (%s): %s %s, want %s %s", i, kindName(s.m.Kind), v, reason, s.verdict, s.reason)
		}
		if got := r.bls.pairings - before; s.pairings >= 0 && got != s.pairings {
			r.t.Fatalf("step %d (%s): %d pairings, want %d", i, kindName(s.m.Kind), got, s.pairings)
		}
	}
}

func TestGossipCheck(t *testing.T) {
	const h = 11 // the height being decided (head 10)
	blockID := chain.Keccak256([]byte("block"))
	for _, c := range []struct {
		name  string
		steps func(r *gossipRig) []gossipStep
	}{
		{"a vote is checked once, its copies free", func(r *gossipRig) []gossipStep {
			v := r.vote(1, consensus.Prevote, h, 0, blockID)
			first := step(v, p2p.Accept, reasonChecked, 1)
			return []gossipStep{first, step(v, p2p.Accept, reasonKnown, 0).again(1), step(v, p2p.Accept, reasonKnown, 0).again(3)}
		}},
		{"a forged vote", func(r *gossipRig) []gossipStep {
			v := r.vote(1, consensus.Prevote, h, 0, blockID)
			v.Vote.Validator = 2
			return []gossipStep{step(v, p2p.Reject, reasonSignature, 1)}
		}},
		{"a vote of a validator outside the set", func(r *gossipRig) []gossipStep {
			v := r.vote(1, consensus.Prevote, h, 0, blockID)
			v.Vote.Validator = 40
			return []gossipStep{step(v, p2p.Reject, reasonSignature, 0)}
		}},
		{"heights: the last committed to the next", func(r *gossipRig) []gossipStep {
			return []gossipStep{
				step(r.vote(1, consensus.Precommit, h-1, 0, blockID), p2p.Accept, reasonChecked, 1),
				step(r.vote(1, consensus.Prevote, h+1, 0, blockID), p2p.Accept, reasonChecked, 1),
				step(r.vote(1, consensus.Prevote, h-2, 0, blockID), p2p.Ignore, reasonBehind, 0),
				step(r.vote(1, consensus.Prevote, h+2, 0, blockID), p2p.Ignore, reasonAhead, 0),
				step(r.timeout(1, 1<<40, 0), p2p.Ignore, reasonAhead, 0),
			}
		}},
		{"a message on another kind's topic", func(r *gossipRig) []gossipStep {
			return []gossipStep{step(r.vote(1, consensus.Prevote, h, 0, blockID), p2p.Reject, reasonTopic, 0).on(topicTimeouts)}
		}},
		{"a timeout", func(r *gossipRig) []gossipStep {
			bad := r.timeout(2, h, 0)
			bad.Timeout.Round = 1
			return []gossipStep{step(r.timeout(2, h, 0), p2p.Accept, reasonChecked, 1), step(bad, p2p.Reject, reasonSignature, 1)}
		}},
		{"certificates need a quorum at the first hop", func(r *gossipRig) []gossipStep {
			one := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Prevote, h, 0, blockID, 1)}
			two := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Prevote, h, 0, blockID, 1, 2)}
			return []gossipStep{step(one, p2p.Reject, reasonQuorum, 0), step(two, p2p.Reject, reasonQuorum, 0)}
		}},
		{"what could not be a certificate or an aggregate is refused at any height", func(r *gossipRig) []gossipStep {
			// A vote dressed as a one-signer certificate or aggregate, of an
			// old height or after the real certificate: an honest node never
			// relays one, so its sender pays, and no pairing is spent.
			qc := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 0, blockID, 0, 1, 2)}
			one := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 0, blockID, 1)}
			old := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h-5, 0, blockID, 1)}
			oldTC := r.tc(h-5, 0, 2)
			oldPart := &consensus.Message{Kind: consensus.KindAggregate, QC: r.qc(consensus.Prevote, h-5, 0, blockID, 1)}
			return []gossipStep{
				step(qc, p2p.Accept, reasonChecked, 1),
				step(one, p2p.Reject, reasonQuorum, 0),
				step(old, p2p.Reject, reasonQuorum, 0),
				step(oldTC, p2p.Reject, reasonQuorum, 0),
				step(oldPart, p2p.Reject, reasonCommittee, 0),
			}
		}},
		{"a certificate, then another of the same votes", func(r *gossipRig) []gossipStep {
			qc := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 0, blockID, 0, 1, 2)}
			other := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 0, blockID, 1, 2, 3)}
			bad := &consensus.Message{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 1, blockID, 0, 1, 2)}
			bad.QC.Sig = qc.QC.Sig
			return []gossipStep{
				step(bad, p2p.Reject, reasonSignature, 1),
				step(qc, p2p.Accept, reasonChecked, 1),
				step(qc, p2p.Accept, reasonKnown, 0).again(2),
				step(other, p2p.Ignore, reasonCertified, 0),
			}
		}},
		{"timeout certificates", func(r *gossipRig) []gossipStep {
			return []gossipStep{
				step(r.tc(h, 0, 1, 2), p2p.Reject, reasonQuorum, 0),
				step(r.tc(h, 0, 1, 2, 3), p2p.Accept, reasonChecked, 1),
				step(r.tc(h, 0, 0, 1, 2), p2p.Ignore, reasonCertified, 0),
			}
		}},
		{"with one committee, no aggregates", func(r *gossipRig) []gossipStep {
			part := &consensus.Message{Kind: consensus.KindAggregate, QC: r.qc(consensus.Prevote, h, 0, blockID, 1)}
			return []gossipStep{step(part, p2p.Reject, reasonCommittee, 0)}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newGossipRig(t, 4, 1)
			r.run(c.steps(r))
		})
	}
}

func TestGossipCheckProposals(t *testing.T) {
	const h = 11
	txs := [][]byte{[]byte("tx one"), []byte("tx two")}
	for _, c := range []struct {
		name  string
		steps func(r *gossipRig) []gossipStep
	}{
		{"the leader's block, then its copies", func(r *gossipRig) []gossipStep {
			p := r.proposal(0, block(h, txs...), nil, consensus.NoRound, nil)
			return []gossipStep{step(p, p2p.Accept, reasonChecked, 1), step(p, p2p.Accept, reasonKnown, 0).again(1)}
		}},
		{"junk in place of the payload", func(r *gossipRig) []gossipStep {
			return []gossipStep{step(r.proposal(0, block(h, txs...), []byte("junk"), consensus.NoRound, nil), p2p.Reject, reasonBinding, 1)}
		}},
		{"another block's payload", func(r *gossipRig) []gossipStep {
			other := block(h, []byte("other tx")).Encode()
			return []gossipStep{step(r.proposal(0, block(h, txs...), other, consensus.NoRound, nil), p2p.Reject, reasonBinding, 1)}
		}},
		{"junk transactions under the genuine header", func(r *gossipRig) []gossipStep {
			b := block(h, txs...)
			junk := &chain.Block{Header: b.Header, Txs: [][]byte{[]byte("junk")}}
			return []gossipStep{step(r.proposal(0, b, junk.Encode(), consensus.NoRound, nil), p2p.Reject, reasonBinding, 1)}
		}},
		{"the block with a certificate attached", func(r *gossipRig) []gossipStep {
			b := block(h, txs...)
			withCert := &chain.Block{Header: b.Header, Txs: b.Txs, Cert: []byte("cert")}
			return []gossipStep{step(r.proposal(0, b, withCert.Encode(), consensus.NoRound, nil), p2p.Reject, reasonBinding, 1)}
		}},
		{"a block of another height", func(r *gossipRig) []gossipStep {
			p := r.proposal(0, block(h, txs...), nil, consensus.NoRound, nil)
			wrong := block(h+1, txs...)
			p.Proposal.Payload, p.Proposal.BlockID = wrong.Encode(), wrong.Hash()
			l := p.Proposal.Proposer
			p.Proposal.Sig = r.sks[l].Sign(consensus.ProposalSignBytes(r.tag, h, 0, wrong.Hash(), consensus.NoRound)).Bytes()
			return []gossipStep{step(p, p2p.Reject, reasonBinding, 1)}
		}},
		{"not the round's leader", func(r *gossipRig) []gossipStep {
			p := r.proposal(0, block(h, txs...), nil, consensus.NoRound, nil)
			p.Proposal.Proposer = (p.Proposal.Proposer + 1) % 4
			return []gossipStep{step(p, p2p.Reject, reasonLeader, 0)}
		}},
		{"a bad signature", func(r *gossipRig) []gossipStep {
			p := r.proposal(0, block(h, txs...), nil, consensus.NoRound, nil)
			p.Proposal.Sig = r.sks[0].Sign([]byte("other")).Bytes()
			return []gossipStep{step(p, p2p.Reject, reasonSignature, 1)}
		}},
		{"proofs of lock", func(r *gossipRig) []gossipStep {
			b := block(h, txs...)
			pol := r.qc(consensus.Prevote, h, 0, b.Hash(), 0, 1, 2)
			weak := r.qc(consensus.Prevote, h, 0, b.Hash(), 0, 1)
			forged := r.qc(consensus.Prevote, h, 0, b.Hash(), 0, 1, 2)
			forged.Sig = weak.Sig
			return []gossipStep{
				step(r.proposal(1, b, nil, 0, nil), p2p.Reject, reasonPOL, 0),                 // a valid round without its certificate
				step(r.proposal(1, b, nil, consensus.NoRound, pol), p2p.Reject, reasonPOL, 0), // a certificate without a valid round
				step(r.proposal(1, b, nil, 0, weak), p2p.Reject, reasonPOL, 1),                // no quorum
				step(r.proposal(1, b, nil, 0, forged), p2p.Reject, reasonPOL, 1),              // a bad aggregate (the signature is known)
				step(r.proposal(1, b, nil, 0, pol), p2p.Accept, reasonChecked, 1),             // the certificate's pairing
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newGossipRig(t, 4, 1)
			r.run(c.steps(r))
		})
	}
}

func TestGossipCheckAggregates(t *testing.T) {
	const h = 11
	blockID := chain.Keccak256([]byte("block"))
	r := newGossipRig(t, 16, 2)
	k0, k1 := r.comms.Members(0), r.comms.Members(1)
	if len(k0) < 3 || len(k1) < 1 {
		t.Fatalf("committees of %d and %d", len(k0), len(k1))
	}
	part := func(signers ...uint32) *consensus.Message {
		return &consensus.Message{Kind: consensus.KindAggregate, QC: r.qc(consensus.Prevote, h, 0, blockID, signers...)}
	}
	vote := r.vote(k0[0], consensus.Prevote, h, 0, blockID)
	r.run([]gossipStep{
		step(part(k0[0], k1[0]), p2p.Reject, reasonCommittee, 0),
		step(part(k0[0]), p2p.Accept, reasonChecked, 1), // a vote dressed as an aggregate: once
		step(part(k0[1]), p2p.Ignore, reasonCovered, 0), // no more signers than the one accepted
		step(part(k0[0], k0[1]), p2p.Accept, reasonChecked, 1),
		step(part(k0[1], k0[2]), p2p.Ignore, reasonCovered, 0),
		step(part(k0[0], k0[1], k0[2]), p2p.Accept, reasonChecked, 1),
		step(part(k1[0]), p2p.Accept, reasonChecked, 1), // another committee's
		step(vote, p2p.Accept, reasonChecked, 1).onSubnet(0),
		step(r.vote(k1[0], consensus.Prevote, h, 0, blockID), p2p.Ignore, reasonSubnet, 0).onSubnet(0),
	})
	bad := part(k0[0], k0[1], k0[2], k0[len(k0)-1])
	bad.QC.Sig = part(k0[0]).QC.Sig
	if len(k0) > 3 {
		r.run([]gossipStep{step(bad, p2p.Reject, reasonSignature, 1)})
	}
	// The accepted aggregate goes to the core from its aggregator.
	m := r.check.deliver(encodeWire(0, part(k0[0], k0[1], k0[2])))
	if agg, _ := r.comms.Aggregator(h, 0, 0); m == nil || m.From != agg {
		t.Fatalf("delivered %+v, want it from the aggregator %d", m, agg)
	}
}

// TestGossipDeliversOnce: every accepted body is handed to the core once,
// whatever attempt or topic its copies came on; this node's own messages,
// and messages of a committed height, never.
func TestGossipDeliversOnce(t *testing.T) {
	r := newGossipRig(t, 4, 1)
	const h = 11
	v := r.vote(1, consensus.Prevote, h, 0, chain.Keccak256([]byte("block")))
	deliver := func(attempt uint8, m *consensus.Message) *consensus.Message {
		data := encodeWire(attempt, m)
		if r.check.validate(topicOf(m.Kind), -1, data) != p2p.Accept {
			t.Fatal("not accepted")
		}
		return r.check.deliver(data)
	}
	got := deliver(0, v)
	if got == nil || got.From != 1 || !bytes.Equal(got.Encode(), func() []byte { c := *v; c.From = 1; return c.Encode() }()) {
		t.Fatalf("first copy delivered as %+v", got)
	}
	for a := range uint8(maxAttempt + 1) {
		if deliver(a, v) != nil {
			t.Fatalf("attempt %d delivered again", a)
		}
	}
	own := r.timeout(0, h, 0)
	ownData := encodeWire(0, own)
	r.check.sent(ownData, wireKey(ownData))
	if deliver(1, own) != nil {
		t.Fatal("this node's own timeout delivered")
	}
	old := r.vote(2, consensus.Precommit, h-1, 0, chain.Keccak256([]byte("block")))
	if deliver(0, old) != nil {
		t.Fatal("a vote of the committed height delivered")
	}
	// Heights drop out as they commit.
	r.head = h + 5
	r.check.validate(topicVotes, -1, encodeWire(0, r.vote(1, consensus.Prevote, h+5, 0, consensus.Hash{})))
	if n := len(r.check.books); n != 1 {
		t.Fatalf("%d heights remembered after the head moved, want 1", n)
	}
}

// TestBoundBlocks: the driver's decoding of a payload gossip bound is
// answered from memory, and only for the very same bytes; anything else
// is bound afresh, so junk under a genuine header still fails.
func TestBoundBlocks(t *testing.T) {
	r := newGossipRig(t, 4, 1)
	b := block(11, []byte("tx one"), []byte("tx two"))
	p := r.proposal(0, b, nil, consensus.NoRound, nil)
	if r.check.validate(topicProposals, -1, encodeWire(0, p)) != p2p.Accept {
		t.Fatal("proposal not accepted")
	}
	mem := r.check.bound
	if len(mem.byID) != 1 {
		t.Fatalf("%d blocks remembered, want 1", len(mem.byID))
	}
	got, err := mem.decode(b.Encode())
	if err != nil || got.Hash() != b.Hash() || got == mem.byID[b.Hash()].blk {
		t.Fatalf("decode = %v, %v: want a copy of the bound block", got, err)
	}
	got.Cert = []byte("set by a commit")
	if again, _ := mem.decode(b.Encode()); len(again.Cert) != 0 {
		t.Fatal("a caller's change reached the remembered block")
	}
	junk := &chain.Block{Header: b.Header, Txs: [][]byte{[]byte("junk")}}
	if _, err := mem.decode(junk.Encode()); !errors.Is(err, errBinding) {
		t.Fatalf("junk under the bound header: %v, want errBinding", err)
	}
	var none *boundBlocks
	if _, err := none.decode(junk.Encode()); !errors.Is(err, errBinding) {
		t.Fatalf("without memory: %v, want errBinding", err)
	}
}

// FuzzGossipCheck: the validator is total (any bytes, any topic), accepts
// only what decodes, and what it accepts is delivered at most once.
func FuzzGossipCheck(f *testing.F) {
	r := newGossipRig(f, 4, 1)
	const h = 11
	blockID := chain.Keccak256([]byte("block"))
	for _, m := range []*consensus.Message{
		r.vote(1, consensus.Prevote, h, 0, blockID),
		r.timeout(2, h, 1),
		r.proposal(0, block(h, []byte("tx")), nil, consensus.NoRound, nil),
		{Kind: consensus.KindQC, QC: r.qc(consensus.Precommit, h, 0, blockID, 0, 1, 2)},
		r.tc(h, 0, 1, 2, 3),
	} {
		f.Add(encodeWire(0, m), uint8(0))
	}
	topics := append(slices.Clone(consensusTopics), voteSubnet(0))
	f.Fuzz(func(t *testing.T, data []byte, topic uint8) {
		name := topics[int(topic)%len(topics)]
		subnet := -1
		if name == voteSubnet(0) {
			name, subnet = topicVotes, 0
		}
		if r.check.validate(name, subnet, data) != p2p.Accept {
			return
		}
		if _, _, err := decodeWire(data); err != nil {
			t.Fatalf("accepted what does not decode: %v", err)
		}
		r.check.deliver(data)
		if r.check.deliver(data) != nil {
			t.Fatal("delivered twice")
		}
	})
}
