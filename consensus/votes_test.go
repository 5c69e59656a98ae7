package consensus

import (
	"bytes"
	"errors"
	"math/bits"
	"slices"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

// The tests in this file drive one core's vote collection through Step and
// Tick with real BLS signatures, and count the signature checks the core
// asks of its Crypto, so that they see the optimistic checks at work.

// countingCrypto counts signature checks: each is one pairing with BLS.
type countingCrypto struct {
	Crypto
	checks int
}

func (c *countingCrypto) Verify(i uint32, msg, sig []byte) bool {
	c.checks++
	return c.Crypto.Verify(i, msg, sig)
}

func (c *countingCrypto) VerifyAggregate(signers Bitmap, msg, sig []byte) bool {
	c.checks++
	return c.Crypto.VerifyAggregate(signers, msg, sig)
}

// voteRig is one core at height 1 and the keys of the whole set.
type voteRig struct {
	t      *testing.T
	set    *ValidatorSet
	sks    []*bls.SecretKey
	crypto *countingCrypto
	core   *Core
	block  Hash
	round  uint64
	sent   []Envelope
}

const rigHeight = 1

func newVoteRig(t *testing.T, stakes []uint64, committees int, self uint32) *voteRig {
	t.Helper()
	set, sks := testSet(t, stakes)
	r := &voteRig{t: t, set: set, sks: sks, block: chain.Keccak256([]byte("the block"))}
	r.crypto = &countingCrypto{Crypto: mustBLSCrypto(t, sks[self], set)}
	core, err := NewCore(Config{
		ChainTag: testChainTag, Validators: set, Self: self, Crypto: r.crypto,
		Committees: committees, EpochLength: 1000,
		TimeoutTicks: 1000, TimeoutGrowthPercent: 50, MaxTimeoutTicks: 10000,
		AggregateTicks: 3, FallbackTicks: 500,
	}, Start{Height: rigHeight, EpochSeed: EpochSeed(testChainTag, 0, Hash{})})
	if err != nil {
		t.Fatal(err)
	}
	r.core = core
	r.drain()
	r.sent = nil
	return r
}

func (r *voteRig) drain() {
	rd := r.core.Ready()
	r.core.Advance()
	r.sent = append(r.sent, rd.Messages...)
}

func (r *voteRig) signBytes() []byte {
	return VoteSignBytes(testChainTag, Prevote, rigHeight, r.round, r.block)
}

// vote is validator i's prevote; a bad one carries a valid signature of
// another block, which only a pairing tells apart.
func (r *voteRig) vote(i uint32, bad bool) *Message {
	msg := r.signBytes()
	if bad {
		msg = VoteSignBytes(testChainTag, Prevote, rigHeight, r.round, chain.Keccak256([]byte("another block")))
	}
	return &Message{Kind: KindVote, From: i, Vote: &Vote{
		Type: Prevote, Height: rigHeight, Round: r.round, BlockID: r.block, Validator: i, Sig: r.sks[i].Sign(msg).Bytes(),
	}}
}

// part is committee k's aggregate of the members' prevotes, sent by the
// committee's aggregator; a bad one signs another block.
func (r *voteRig) part(members []uint32, bad bool) *Message {
	msg := r.signBytes()
	if bad {
		msg = VoteSignBytes(testChainTag, Prevote, rigHeight, r.round, chain.Keccak256([]byte("another block")))
	}
	ids := make([]int, len(members))
	for i, m := range members {
		ids[i] = int(m)
	}
	from, _ := r.core.comms.Aggregator(rigHeight, r.round, r.core.comms.Of(members[0]))
	return &Message{Kind: KindAggregate, From: from, QC: &QC{
		Type: Prevote, Height: rigHeight, Round: r.round, BlockID: r.block,
		Signers: bitmapOf(r.set.Len(), ids...), Sig: aggregateOf(r.t, r.crypto.Crypto, r.sks, msg, ids...),
	}}
}

func (r *voteRig) step(m *Message) error {
	r.t.Helper()
	err := r.core.Step(m)
	r.drain()
	return err
}

func (r *voteRig) mustStep(m *Message) {
	r.t.Helper()
	if err := r.step(m); err != nil {
		r.t.Fatalf("Step(kind %d from %d): %v", m.Kind, m.From, err)
	}
}

func (r *voteRig) tick(n int) {
	for range n {
		r.core.Tick()
		r.drain()
	}
}

// take returns and forgets the messages of a kind sent so far.
func (r *voteRig) take(kind Kind) []Envelope {
	var out, rest []Envelope
	for _, env := range r.sent {
		if env.Msg.Kind == kind {
			out = append(out, env)
		} else {
			rest = append(rest, env)
		}
	}
	r.sent = rest
	return out
}

// certificate returns the one certificate broadcast since the last call,
// or nil, after checking that it verifies.
func (r *voteRig) certificate() *QC {
	r.t.Helper()
	qcs := r.take(KindQC)
	if len(qcs) == 0 {
		return nil
	}
	if len(qcs) > 1 {
		r.t.Fatalf("%d certificates broadcast, want one", len(qcs))
	}
	qc := qcs[0].Msg.QC
	verifier := mustBLSCrypto(r.t, nil, r.set)
	if !verifier.VerifyAggregate(qc.Signers, r.signBytes(), qc.Sig) {
		r.t.Fatalf("certificate of %v does not verify", qc.Signers.Members())
	}
	if !r.set.IsQuorum(r.set.StakeOf(qc.Signers)) {
		r.t.Fatalf("certificate of %v has no quorum", qc.Signers.Members())
	}
	return qc
}

func others(n int, self uint32) []uint32 {
	var out []uint32
	for i := range uint32(n) {
		if i != self {
			out = append(out, i)
		}
	}
	return out
}

// TestLeaderChecksVotesOptimistically feeds single votes to the leader of
// a one-committee set: nothing is checked until the votes could make a
// quorum, then all of them with one pairing, and bad ones are found by
// bisection and left out.
func TestLeaderChecksVotesOptimistically(t *testing.T) {
	const n = 16 // quorum: 11 of 16
	leader := func() uint32 { s, _ := testSet(t, equalStakes(n)); return s.Proposer(rigHeight, 0) }()
	voters := others(n, leader)
	tests := []struct {
		name string
		bad  []int // positions in voters
	}{
		{"all good", nil},
		{"first bad", []int{0}},
		{"last of the first quorum bad", []int{10}},
		{"two bad", []int{2, 7}},
		{"three bad in a row", []int{4, 5, 6}},
		{"four bad", []int{0, 3, 8, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newVoteRig(t, equalStakes(n), 1, leader)
			var good []uint32
			var qc *QC
			fed := 0
			for pos, v := range voters {
				bad := slices.Contains(tt.bad, pos)
				r.mustStep(r.vote(v, bad))
				fed++
				if !bad {
					good = append(good, v)
				}
				if fed < 11 && r.crypto.checks != 0 {
					t.Fatalf("%d checks after %d votes, before a quorum was possible", r.crypto.checks, fed)
				}
				if qc = r.certificate(); qc != nil {
					break
				}
			}
			if qc == nil {
				t.Fatal("no certificate")
			}
			if len(good) != 11 {
				t.Errorf("certificate after %d good votes, want it at the 11th", len(good))
			}
			if got := qc.Signers.Members(); !slices.Equal(got, good) {
				t.Errorf("certificate signers %v, want the good votes %v", got, good)
			}
			if got := r.core.Stats().BadSignatures; got != uint64(len(tt.bad)) {
				t.Errorf("bad signatures counted %d, want %d", got, len(tt.bad))
			}
			// One pairing for the first aggregate, at most two per level of
			// the bisection for each bad vote, and one for each later
			// batch of votes.
			limit := 1 + 2*len(tt.bad)*bits.Len(uint(11)) + (fed - 11)
			if r.crypto.checks > limit || len(tt.bad) <= 1 && r.crypto.checks >= fed {
				t.Errorf("%d signature checks for %d votes with %d bad, want at most %d", r.crypto.checks, fed, len(tt.bad), limit)
			}
			// Later votes change nothing.
			r.mustStep(r.vote(voters[len(voters)-1], false))
			if r.certificate() != nil {
				t.Error("a second certificate for the same votes")
			}
		})
	}
}

// TestLeaderQuorumIsStake checks that the leader waits for more than two
// thirds of the stake, not of the validators.
func TestLeaderQuorumIsStake(t *testing.T) {
	// Total 900: the quorum needs more than 600.
	stakes := []uint64{300, 100, 100, 100, 100, 100, 50, 50}
	set, _ := testSet(t, stakes)
	tests := []struct {
		name   string
		order  []uint32
		formAt int // votes fed when the certificate forms
	}{
		{"exactly two thirds is not enough", []uint32{0, 1, 2, 3, 6}, 5},        // 600, then 650
		{"heavy validator last", []uint32{1, 2, 3, 4, 5, 6, 7, 0}, 8},           // 600 without it
		{"light validators make the difference", []uint32{0, 6, 1, 7, 2}, 5},    // 300 350 450 500 600 (no)
		{"heavy validator first", []uint32{0, 1, 6, 2, 3}, 5},                   // 300 400 450 550 650
		{"five light validators are not enough", []uint32{1, 2, 3, 4, 5, 6}, 0}, // 550
	}
	tests[2].order, tests[2].formAt = append(tests[2].order, 3), 6 // 700
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The leader's own vote is stepped like the others.
			r := newVoteRig(t, stakes, 1, set.Proposer(rigHeight, 0))
			for i, v := range tt.order {
				r.mustStep(r.vote(v, false))
				qc := r.certificate()
				if (qc != nil) != (i+1 == tt.formAt) {
					t.Fatalf("after %d votes: certificate %v, want one only after %d", i+1, qc != nil, tt.formAt)
				}
				if qc != nil {
					want := slices.Sorted(slices.Values(tt.order[:i+1]))
					if got := qc.Signers.Members(); !slices.Equal(got, want) {
						t.Fatalf("certificate signers %v, want %v", got, want)
					}
				}
			}
		})
	}
}

// aggregatorRound finds a round at the rig's height, within the rounds a
// core accepts votes for, where committee k's aggregator does not lead.
func aggregatorRound(t *testing.T, set *ValidatorSet, committees, k int) (round uint64, aggregator uint32) {
	t.Helper()
	comms := set.Assign(EpochSeed(testChainTag, 0, Hash{}), committees)
	if comms.Count() != committees {
		t.Fatalf("%d committees, want %d", comms.Count(), committees)
	}
	for round := range uint64(maxRoundsAhead) {
		agg, _ := comms.Aggregator(rigHeight, round, k)
		if agg != set.Proposer(rigHeight, round) {
			return round, agg
		}
	}
	t.Fatal("no round where the aggregator does not lead")
	return 0, 0
}

// TestAggregatorForwards checks that a committee's aggregator checks its
// members' votes optimistically and forwards their aggregate to the
// leader: at once when every member has voted, after the aggregation delay
// otherwise, without the bad votes, and again when it has more.
func TestAggregatorForwards(t *testing.T) {
	const n, committees = 24, 3
	set, _ := testSet(t, equalStakes(n))
	round, agg := aggregatorRound(t, set, committees, 1)
	comms := set.Assign(EpochSeed(testChainTag, 0, Hash{}), committees)
	k := comms.Of(agg)
	mem := comms.Members(k)
	if len(mem) < 4 {
		t.Fatalf("committee %d has %d members", k, len(mem))
	}
	leader := set.Proposer(rigHeight, round)

	forwarded := func(r *voteRig) *QC {
		t.Helper()
		aggs := r.take(KindAggregate)
		if len(aggs) == 0 {
			return nil
		}
		if len(aggs) > 1 || !slices.Equal(aggs[0].To, []uint32{leader}) {
			t.Fatalf("aggregates sent %+v, want one to the leader %d", aggs, leader)
		}
		part := aggs[0].Msg.QC
		if !mustBLSCrypto(t, nil, set).VerifyAggregate(part.Signers, r.signBytes(), part.Sig) {
			t.Fatalf("forwarded aggregate of %v does not verify", part.Signers.Members())
		}
		return part
	}
	newRig := func(t *testing.T) *voteRig {
		r := newVoteRig(t, equalStakes(n), committees, agg)
		r.round = round
		return r
	}

	t.Run("whole committee", func(t *testing.T) {
		r := newRig(t)
		for i, m := range mem {
			r.mustStep(r.vote(m, false))
			if part := forwarded(r); (part != nil) != (i == len(mem)-1) {
				t.Fatalf("after %d of %d votes: forwarded %v", i+1, len(mem), part != nil)
			} else if part != nil && !slices.Equal(part.Signers.Members(), mem) {
				t.Fatalf("forwarded signers %v, want the committee %v", part.Signers.Members(), mem)
			}
		}
		if r.crypto.checks != 1 {
			t.Errorf("%d signature checks, want 1", r.crypto.checks)
		}
	})
	t.Run("bad votes left out", func(t *testing.T) {
		r := newRig(t)
		bad := []uint32{mem[1], mem[len(mem)-2]}
		for _, m := range mem {
			r.mustStep(r.vote(m, slices.Contains(bad, m)))
		}
		part := forwarded(r)
		if part == nil {
			t.Fatal("nothing forwarded")
		}
		want := slices.DeleteFunc(slices.Clone(mem), func(m uint32) bool { return slices.Contains(bad, m) })
		if !slices.Equal(part.Signers.Members(), want) {
			t.Errorf("forwarded signers %v, want %v", part.Signers.Members(), want)
		}
		if got := r.core.Stats().BadSignatures; got != 2 {
			t.Errorf("bad signatures counted %d, want 2", got)
		}
		if limit := 1 + 2*len(bad)*bits.Len(uint(len(mem))); r.crypto.checks > limit {
			t.Errorf("%d signature checks for %d votes with %d bad, want at most %d", r.crypto.checks, len(mem), len(bad), limit)
		}
		// A bad voter's later, good vote is ignored for this block.
		r.mustStep(r.vote(bad[0], false))
		r.tick(5)
		if part := forwarded(r); part != nil {
			t.Errorf("forwarded again after a bad voter's second vote: %v", part.Signers.Members())
		}
	})
	t.Run("after the aggregation delay, then more", func(t *testing.T) {
		r := newRig(t)
		some := mem[:len(mem)-2]
		for _, m := range some {
			r.mustStep(r.vote(m, false))
		}
		if part := forwarded(r); part != nil {
			t.Fatal("forwarded before the committee voted or the delay passed")
		}
		r.tick(3) // the first vote's tick and the aggregation delay
		if part := forwarded(r); part != nil {
			t.Fatal("forwarded before the aggregation delay passed")
		}
		r.tick(1)
		part := forwarded(r)
		if part == nil || !slices.Equal(part.Signers.Members(), some) {
			t.Fatalf("forwarded %v after the delay, want %v", part, some)
		}
		r.mustStep(r.vote(mem[len(mem)-2], false))
		r.tick(1)
		if part := forwarded(r); part == nil || !slices.Equal(part.Signers.Members(), mem[:len(mem)-1]) {
			t.Fatalf("forwarded %v after a late vote, want %v", part, mem[:len(mem)-1])
		}
	})
	t.Run("votes of other committees", func(t *testing.T) {
		r := newRig(t)
		for i := range uint32(n) {
			if comms.Of(i) != k {
				r.mustStep(r.vote(i, false))
			}
		}
		r.tick(5)
		if part := forwarded(r); part != nil {
			t.Errorf("forwarded other committees' votes: %v", part.Signers.Members())
		}
		if r.crypto.checks != 0 {
			t.Errorf("%d signature checks of votes it does not aggregate", r.crypto.checks)
		}
	})
}

// partsRig is a leader of a round where no aggregator leads, in a set of
// several committees, with each committee's members.
func partsRig(t *testing.T, stakes []uint64, committees int) (*voteRig, [][]uint32) {
	t.Helper()
	set, _ := testSet(t, stakes)
	comms := set.Assign(EpochSeed(testChainTag, 0, Hash{}), committees)
	for round := range uint64(maxRoundsAhead) {
		leader := set.Proposer(rigHeight, round)
		clash := false
		for k := range committees {
			if a, _ := comms.Aggregator(rigHeight, round, k); a == leader {
				clash = true
			}
		}
		if clash {
			continue
		}
		r := newVoteRig(t, stakes, committees, leader)
		r.round = round
		var mem [][]uint32
		for k := range committees {
			mem = append(mem, comms.Members(k))
		}
		return r, mem
	}
	t.Fatal("no round where the leader aggregates no committee")
	return nil, nil
}

func union(sets ...[]uint32) []uint32 {
	var out []uint32
	for _, s := range sets {
		out = append(out, s...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestLeaderCombinesParts feeds committee aggregates to the leader: they
// wait unchecked until they could make a quorum, are then checked together
// with one pairing, and form a certificate only with more than two thirds
// of the stake.
func TestLeaderCombinesParts(t *testing.T) {
	const n, committees = 40, 5

	t.Run("quorum of parts", func(t *testing.T) {
		r, mem := partsRig(t, equalStakes(n), committees)
		var fed [][]uint32
		for k := range mem {
			r.mustStep(r.part(mem[k], false))
			fed = append(fed, mem[k])
			signers := union(fed...)
			quorum := r.set.IsQuorum(uint64(100 * len(signers)))
			qc := r.certificate()
			if (qc != nil) != quorum {
				t.Fatalf("after %d parts (%d signers): certificate %v, quorum %v", k+1, len(signers), qc != nil, quorum)
			}
			if !quorum && r.crypto.checks != 0 {
				t.Fatalf("%d checks before the parts could make a quorum", r.crypto.checks)
			}
			if qc != nil {
				if !slices.Equal(qc.Signers.Members(), signers) {
					t.Fatalf("certificate signers %v, want %v", qc.Signers.Members(), signers)
				}
				if r.crypto.checks != 1 {
					t.Errorf("%d signature checks for %d parts, want 1", r.crypto.checks, k+1)
				}
				return
			}
		}
		t.Fatal("no certificate from every committee's aggregate")
	})

	t.Run("bad part dropped, its committee's votes come directly", func(t *testing.T) {
		r, mem := partsRig(t, equalStakes(n), committees)
		// The largest committee's aggregator is faulty and the second
		// largest's sends nothing: the three others hold at most three
		// fifths of the stake.
		bySize := make([]int, len(mem))
		for k := range bySize {
			bySize[k] = k
		}
		slices.SortStableFunc(bySize, func(a, b int) int { return len(mem[b]) - len(mem[a]) })
		big, silent := bySize[0], bySize[1]
		r.mustStep(r.part(mem[big], true))
		var rest [][]uint32
		for k := range mem {
			if k != big && k != silent {
				r.mustStep(r.part(mem[k], false))
				rest = append(rest, mem[k])
			}
		}
		if r.set.IsQuorum(uint64(100 * len(union(rest...)))) {
			t.Fatalf("committees %v make a quorum alone", rest)
		}
		if qc := r.certificate(); qc != nil {
			t.Fatalf("certificate %v with a bad part", qc.Signers.Members())
		}
		if got := r.core.Stats().BadSignatures; got != 1 {
			t.Fatalf("bad signatures counted %d, want 1", got)
		}
		// The faulty aggregator's later parts are ignored, even good ones.
		r.mustStep(r.part(mem[big], false))
		if qc := r.certificate(); qc != nil {
			t.Fatalf("certificate %v from a faulty aggregator's part", qc.Signers.Members())
		}
		// Its members fall back to sending their votes to the leader.
		var direct []uint32
		for _, v := range mem[big] {
			r.mustStep(r.vote(v, false))
			direct = append(direct, v)
			if qc := r.certificate(); qc != nil {
				if want := union(append(rest, direct)...); !slices.Equal(qc.Signers.Members(), want) {
					t.Fatalf("certificate signers %v, want %v", qc.Signers.Members(), want)
				}
				return
			}
		}
		t.Fatal("no certificate from good parts and direct votes")
	})

	t.Run("bisection finds the bad parts", func(t *testing.T) {
		r, mem := partsRig(t, equalStakes(n), committees)
		bad := map[int]bool{1: true, 3: true}
		// Hold every part back until all are in: direct votes of a
		// sixth of the set first would make a quorum reachable early.
		for k := range mem {
			r.mustStep(r.part(mem[k], bad[k]))
		}
		if qc := r.certificate(); qc != nil {
			t.Fatalf("certificate %v", qc.Signers.Members())
		}
		if got := r.core.Stats().BadSignatures; got != 2 {
			t.Fatalf("bad signatures counted %d, want 2", got)
		}
		vs := r.core.collect[voteKey{Prevote, r.round, r.block}]
		for k := range mem {
			// Good parts are checked, or wait for a quorum to be possible.
			_, checked := vs.parts[k]
			_, waiting := vs.waiting[k]
			if (checked || waiting) == bad[k] {
				t.Errorf("committee %d: checked part %v, waiting %v, bad %v", k, checked, waiting, bad[k])
			}
			if vs.badAggr[k] != bad[k] {
				t.Errorf("committee %d: aggregator marked faulty %v, want %v", k, vs.badAggr[k], bad[k])
			}
		}
	})

	t.Run("larger part replaces a smaller one", func(t *testing.T) {
		r, mem := partsRig(t, equalStakes(n), committees)
		r.mustStep(r.part(mem[0][:2], false))
		r.mustStep(r.part(mem[0], false))
		r.mustStep(r.part(mem[0][:3], false)) // smaller: ignored
		var fed [][]uint32
		fed = append(fed, mem[0])
		for k := 1; k < len(mem); k++ {
			r.mustStep(r.part(mem[k], false))
			fed = append(fed, mem[k])
			if qc := r.certificate(); qc != nil {
				if !slices.Equal(qc.Signers.Members(), union(fed...)) {
					t.Fatalf("certificate signers %v, want %v", qc.Signers.Members(), union(fed...))
				}
				return
			}
		}
		t.Fatal("no certificate")
	})

	t.Run("part and direct votes of one committee", func(t *testing.T) {
		r, mem := partsRig(t, equalStakes(n), committees)
		// Committee 0 sends half of its members' aggregate; all of them
		// vote directly as well. Each signer counts once.
		half := mem[0][:len(mem[0])/2]
		r.mustStep(r.part(half, false))
		for _, v := range mem[0] {
			r.mustStep(r.vote(v, false))
		}
		var fed [][]uint32
		fed = append(fed, mem[0])
		for k := 1; k < len(mem); k++ {
			r.mustStep(r.part(mem[k], false))
			fed = append(fed, mem[k])
			quorum := r.set.IsQuorum(uint64(100 * len(union(fed...))))
			qc := r.certificate()
			if (qc != nil) != quorum {
				t.Fatalf("after %d parts: certificate %v, quorum %v", k+1, qc != nil, quorum)
			}
			if qc != nil {
				if !slices.Equal(qc.Signers.Members(), union(fed...)) {
					t.Fatalf("certificate signers %v, want %v", qc.Signers.Members(), union(fed...))
				}
				return
			}
		}
		t.Fatal("no certificate")
	})

	t.Run("stake weighted", func(t *testing.T) {
		stakes := make([]uint64, n)
		for i := range stakes {
			stakes[i] = uint64(1 + i*i) // heavy validators at the end
		}
		r, mem := partsRig(t, stakes, committees)
		var fed [][]uint32
		for k := range mem {
			r.mustStep(r.part(mem[k], false))
			fed = append(fed, mem[k])
			bm := bitmapOf(n)
			for _, v := range union(fed...) {
				bm.Set(v)
			}
			quorum := r.set.IsQuorum(r.set.StakeOf(bm))
			if qc := r.certificate(); (qc != nil) != quorum {
				t.Fatalf("after %d parts (stake %d of %d): certificate %v, quorum %v", k+1, r.set.StakeOf(bm), r.set.TotalStake(), qc != nil, quorum)
			} else if qc != nil {
				return
			}
		}
		t.Fatal("no certificate")
	})
}

// TestLeaderRejectsMalformedParts checks the parts the leader refuses
// before any signature check.
func TestLeaderRejectsMalformedParts(t *testing.T) {
	const n, committees = 40, 5
	r, mem := partsRig(t, equalStakes(n), committees)
	spanning := r.part(mem[0], false)
	spanning.QC.Signers.Set(mem[1][0])
	notFromAggregator := r.part(mem[2], false)
	notFromAggregator.From = mem[2][0]
	if a, _ := r.core.comms.Aggregator(rigHeight, r.round, 2); a == notFromAggregator.From {
		notFromAggregator.From = mem[2][1]
	}
	shortBitmap := r.part(mem[0], false)
	shortBitmap.QC.Signers = shortBitmap.QC.Signers[:len(shortBitmap.QC.Signers)-1]
	empty := r.part(mem[0], false)
	empty.QC.Signers = NewBitmap(n)
	beyond := r.part(mem[0], false)
	beyond.QC.Signers = append(NewBitmap(n), 0xff)
	tests := []struct {
		name string
		msg  *Message
		want error
	}{
		{"spanning committees", spanning, ErrDecode},
		{"bitmap one byte short", shortBitmap, ErrDecode},
		{"bitmap one byte long", beyond, ErrDecode},
		{"no signers", empty, ErrDecode},
		{"not from the committee's aggregator", notFromAggregator, ErrNotValidator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.step(tt.msg); !errors.Is(err, tt.want) {
				t.Fatalf("Step = %v, want %v", err, tt.want)
			}
		})
	}
	vs := r.core.collect[voteKey{Prevote, r.round, r.block}]
	if vs != nil && (len(vs.waiting) != 0 || len(vs.parts) != 0) {
		t.Errorf("rejected parts were kept: %d waiting, %d checked", len(vs.waiting), len(vs.parts))
	}
	if r.crypto.checks != 0 {
		t.Errorf("%d signature checks of malformed parts", r.crypto.checks)
	}
	t.Run("not the leader", func(t *testing.T) {
		other := newVoteRig(t, equalStakes(n), committees, (r.core.cfg.Self+1)%n)
		other.round = r.round
		if err := other.step(r.part(mem[0], false)); err != nil {
			t.Fatalf("Step = %v, want nil (ignored)", err)
		}
		if len(other.core.collect) != 0 {
			t.Error("a validator that does not lead the round kept a part")
		}
	})
}

// TestVoteCollectionDeterministic runs the same messages through two cores
// and expects the same messages out, byte for byte.
func TestVoteCollectionDeterministic(t *testing.T) {
	const n, committees = 40, 5
	run := func() []byte {
		r, mem := partsRig(t, equalStakes(n), committees)
		for k := range mem {
			r.mustStep(r.part(mem[k], k == 2))
			for _, v := range mem[k][:2] {
				r.mustStep(r.vote(v, v%3 == 0))
			}
		}
		r.tick(10)
		var out []byte
		for _, env := range r.sent {
			out = append(out, env.Msg.Encode()...)
		}
		return out
	}
	a, b := run(), run()
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("two runs sent %d and %d bytes, different or none", len(a), len(b))
	}
}

// FuzzStep steps whatever decodes into cores that lead or aggregate the
// sample messages' round, in a set of one committee and in a set of two:
// no input may make a core panic, or fail with an error that is not one of
// the core's.
func FuzzStep(f *testing.F) {
	for _, s := range append(sampleMessages(f), edgeMessages()...) {
		f.Add(s.msg.Encode())
	}
	type setup struct {
		set        *ValidatorSet
		committees int
		selves     []uint32
	}
	var setups []setup
	for _, sc := range []struct{ n, committees int }{{7, 1}, {16, 2}} {
		set, _ := testSet(f, equalStakes(sc.n))
		comms := set.Assign(EpochSeed(testChainTag, 0, Hash{}), sc.committees)
		selves := []uint32{set.Proposer(12, 3)}
		for k := range comms.Count() {
			if a, ok := comms.Aggregator(12, 3, k); ok {
				selves = append(selves, a)
			}
		}
		setups = append(setups, setup{set, sc.committees, selves})
		// Messages that pass xorCrypto's checks reach the deeper paths.
		block := chain.Keccak256([]byte("block"))
		msg := VoteSignBytes(testChainTag, Prevote, 12, 3, block)
		x := xorCrypto{n: sc.n}
		for v := range uint32(sc.n) {
			f.Add((&Message{Kind: KindVote, From: v, Vote: &Vote{Type: Prevote, Height: 12, Round: 3, BlockID: block, Validator: v, Sig: x.sigOf(v, msg)}}).Encode())
		}
		for k := range comms.Count() {
			var sigs [][]byte
			bm := NewBitmap(sc.n)
			for _, v := range comms.Members(k) {
				bm.Set(v)
				sigs = append(sigs, x.sigOf(v, msg))
			}
			agg, _ := x.Aggregate(sigs)
			from, _ := comms.Aggregator(12, 3, k)
			f.Add((&Message{Kind: KindAggregate, From: from, QC: &QC{Type: Prevote, Height: 12, Round: 3, BlockID: block, Signers: bm, Sig: agg}}).Encode())
		}
	}
	sentinels := []error{ErrDecode, ErrBadSignature, ErrNotValidator, ErrWrongLeader, ErrNoQuorum, ErrStale, ErrInvalidState}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		for _, s := range setups {
			for _, self := range s.selves {
				c, err := NewCore(Config{
					ChainTag: testChainTag, Validators: s.set, Self: self, Crypto: xorCrypto{n: s.set.Len(), self: self},
					Committees: s.committees, EpochLength: 5,
					TimeoutTicks: 4, TimeoutGrowthPercent: 50, MaxTimeoutTicks: 20,
					AggregateTicks: 1, FallbackTicks: 2,
				}, Start{Height: 12, EpochSeed: EpochSeed(testChainTag, 2, Hash{})})
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if err := c.Step(m); err != nil && !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
						t.Fatalf("Step: %v is none of the core's errors", err)
					}
					c.Ready()
					c.Advance()
					for range 3 {
						c.Tick()
						c.Ready()
						c.Advance()
					}
				}
			}
		}
	})
}
