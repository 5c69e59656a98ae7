package consensus_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/bls"
)

// The tests in this file drive one core by hand with messages the test
// signs for the other validators (real BLS keys, four validators of equal
// stake, one committee, so votes go straight to the leader). Every Ready
// the core returns is checked for two invariants whatever the test is
// about: what the validator signs is in the State of the same Ready or of
// an earlier one (persist before send), and it never signs two different
// blocks for one height, round and message type, across restarts too.
//
// With four validators the leaders at height 0 are, by round, 0 3 0 0 0 3
// 3 1 (TestCoreLeaderSchedule pins this): validators 1 and 2 lead none of
// the first seven rounds, which makes them convenient subjects whose votes
// leave as messages to the leader.

const rigValidators = 4

// rig holds the validator set and every validator's key.
type rig struct {
	t    *testing.T
	set  *consensus.ValidatorSet
	sks  []*bls.SecretKey
	tag  consensus.Hash
	next int // payload counter
	// subject is the validator under test: the certificates the rig makes
	// for "the others" leave it out, so that they never claim a vote it
	// did not sign.
	subject uint32
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, tag: chain.Keccak256([]byte("core test chain"))}
	vals := make([]consensus.Validator, rigValidators)
	for i := range vals {
		b := make([]byte, bls.SecretKeySize)
		b[0], b[31] = 0x1c, byte(i+1) // deterministic, nonzero, below the group order
		sk, err := bls.SecretKeyFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		r.sks = append(r.sks, sk)
		vals[i] = consensus.Validator{Name: fmt.Sprint("v", i), PubKey: sk.PublicKey().Bytes(), Stake: 100}
	}
	set, err := consensus.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	r.set = set
	return r
}

func (r *rig) crypto(i uint32) *consensus.BLSCrypto {
	c, err := consensus.NewBLSCrypto(r.sks[i], r.set)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) config(self uint32) consensus.Config {
	return consensus.Config{
		ChainTag: r.tag, Validators: r.set, Self: self, Crypto: r.crypto(self),
		Committees: 1, EpochLength: 100,
		TimeoutTicks: 10, TimeoutGrowthPercent: 50, MaxTimeoutTicks: 40,
		AggregateTicks: 2, FallbackTicks: 5,
	}
}

// block returns a new payload and its block hash.
func (r *rig) block() ([]byte, consensus.Hash) {
	r.next++
	p := fmt.Appendf(nil, "block %d", r.next)
	return p, chain.Keccak256(p)
}

func (r *rig) sign(i uint32, msg []byte) []byte { return r.sks[i].Sign(msg).Bytes() }

// proposal is the leader's signed proposal; pol, if set, is its proof of
// lock.
func (r *rig) proposal(h, round uint64, payload []byte, pol *consensus.QC) *consensus.Message {
	return r.proposalFrom(r.set.Proposer(h, round), h, round, payload, pol)
}

func (r *rig) proposalFrom(from uint32, h, round uint64, payload []byte, pol *consensus.QC) *consensus.Message {
	p := &consensus.Proposal{Height: h, Round: round, BlockID: chain.Keccak256(payload), Payload: payload, ValidRound: consensus.NoRound, POL: pol, Proposer: from}
	if pol != nil {
		p.ValidRound = pol.Round
	}
	p.Sig = r.sign(from, consensus.ProposalSignBytes(r.tag, h, round, p.BlockID, p.ValidRound))
	return &consensus.Message{Kind: consensus.KindProposal, From: from, Proposal: p}
}

func (r *rig) vote(from uint32, t consensus.VoteType, h, round uint64, block consensus.Hash) *consensus.Message {
	v := &consensus.Vote{Type: t, Height: h, Round: round, BlockID: block, Validator: from}
	v.Sig = r.sign(from, consensus.VoteSignBytes(r.tag, t, h, round, block))
	return &consensus.Message{Kind: consensus.KindVote, From: from, Vote: v}
}

func (r *rig) aggregate(msg []byte, signers []uint32) (consensus.Bitmap, []byte) {
	bm := consensus.NewBitmap(rigValidators)
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

// qc is a certificate of the given signers (a quorum or not).
func (r *rig) qc(t consensus.VoteType, h, round uint64, block consensus.Hash, signers ...uint32) *consensus.QC {
	bm, sig := r.aggregate(consensus.VoteSignBytes(r.tag, t, h, round, block), signers)
	return &consensus.QC{Type: t, Height: h, Round: round, BlockID: block, Signers: bm, Sig: sig}
}

// others are the three validators other than the subject: more than two
// thirds of the stake.
func (r *rig) others() []uint32 {
	var out []uint32
	for i := range uint32(rigValidators) {
		if i != r.subject {
			out = append(out, i)
		}
	}
	return out
}

// pqc is a prevote quorum certificate of the others.
func (r *rig) pqc(h, round uint64, block consensus.Hash) *consensus.QC {
	return r.qc(consensus.Prevote, h, round, block, r.others()...)
}

// cqc is a precommit quorum certificate of the others.
func (r *rig) cqc(h, round uint64, block consensus.Hash) *consensus.QC {
	return r.qc(consensus.Precommit, h, round, block, r.others()...)
}

func qcMsg(qc *consensus.QC, from uint32) *consensus.Message {
	return &consensus.Message{Kind: consensus.KindQC, From: from, QC: qc}
}

func (r *rig) timeout(from uint32, h, round uint64) *consensus.Message {
	t := &consensus.Timeout{Height: h, Round: round, Validator: from, Sig: r.sign(from, consensus.TimeoutSignBytes(r.tag, h, round))}
	return &consensus.Message{Kind: consensus.KindTimeout, From: from, Timeout: t}
}

func (r *rig) tc(h, round uint64, signers ...uint32) *consensus.TC {
	bm, sig := r.aggregate(consensus.TimeoutSignBytes(r.tag, h, round), signers)
	return &consensus.TC{Height: h, Round: round, Signers: bm, Sig: sig}
}

// tcMsg is a timeout certificate of the others.
func (r *rig) tcMsg(h, round uint64) *consensus.Message {
	o := r.others()
	return &consensus.Message{Kind: consensus.KindTC, From: o[0], TC: r.tc(h, round, o...)}
}

// sigKey names a signed message: two signatures with one key and different
// blocks conflict.
type sigKey struct {
	height, round uint64
	kind          string // proposal, prevote, precommit
}

// tnode is the validator under test with the driver duties a test needs:
// it persists each Ready's State, keeps what the core sent, answers
// proposal requests with a new block, and checks the invariants.
type tnode struct {
	r         *rig
	self      uint32
	core      *consensus.Core
	persisted *consensus.State
	// signed is everything this validator was seen signing, across
	// restarts; conflicts lists the double signatures (the test fails on
	// them unless expectConflicts is set).
	signed          map[sigKey]consensus.Hash
	conflicts       []string
	expectConflicts bool
	sent            []consensus.Envelope
	commits         []consensus.Commit
	fetches         []consensus.Fetch
	readies         int
	// applied is the chain height: commits carried out. A crash (at the
	// Ready numbered crashAt) persists that Ready's State and loses the
	// rest of it: its messages are not sent and its commits not applied.
	applied uint64
	crashAt int
	dead    bool
}

func (r *rig) node(self uint32) *tnode { return r.crashingNode(self, 0) }

// crashingNode is a node that crashes on its Ready numbered crashAt (never
// if zero); the first is NewCore's.
func (r *rig) crashingNode(self uint32, crashAt int) *tnode {
	r.subject = self
	n := &tnode{r: r, self: self, signed: map[sigKey]consensus.Hash{}, crashAt: crashAt}
	n.start(0, nil)
	return n
}

// start builds the core (again) from a chain height and a persisted state.
func (n *tnode) start(height uint64, st *consensus.State) {
	n.r.t.Helper()
	c, err := consensus.NewCore(n.r.config(n.self), consensus.Start{Height: height, EpochSeed: consensus.EpochSeed(n.r.tag, 0, consensus.Hash{}), State: st})
	if err != nil {
		n.r.t.Fatal(err)
	}
	n.core = c
	n.drain()
}

// restart is a restart, after a crash or not, from the chain height and
// what was persisted last; amnesia forgets the persisted state.
func (n *tnode) restart(amnesia bool) {
	n.r.t.Helper()
	n.sent, n.dead, n.crashAt = nil, false, 0
	if amnesia {
		n.persisted = nil
	}
	n.start(n.applied, n.persisted)
}

func (n *tnode) step(m *consensus.Message) error {
	n.r.t.Helper()
	if n.dead {
		return nil
	}
	err := n.core.Step(m)
	n.drain()
	return err
}

// mustStep steps a message the core must accept.
func (n *tnode) mustStep(m *consensus.Message) {
	n.r.t.Helper()
	if err := n.step(m); err != nil {
		n.r.t.Fatalf("step %v: %v", m.Kind, err)
	}
}

func (n *tnode) tick(k int) {
	for range k {
		if n.dead {
			return
		}
		n.core.Tick()
		n.drain()
	}
}

// drain carries out Readies until there are none, checking the
// invariants on each.
func (n *tnode) drain() {
	n.r.t.Helper()
	for {
		rd := n.core.Ready()
		if rd.IsEmpty() {
			return
		}
		n.core.Advance()
		n.readies++
		if rd.State != nil {
			st := *rd.State
			st.Signed = slices.Clone(st.Signed)
			n.checkMonotonic(&st)
			n.persisted = &st
		}
		if n.readies == n.crashAt {
			n.dead = true
			return
		}
		for _, env := range rd.Messages {
			for _, s := range n.signatures(env.Msg) {
				n.checkPersisted(s, env.Msg.Kind)
				n.record(s)
			}
		}
		n.sent = append(n.sent, rd.Messages...)
		n.commits = append(n.commits, rd.Commits...)
		n.applied += uint64(len(rd.Commits))
		n.fetches = append(n.fetches, rd.Fetches...)
		if pr := rd.ProposalRequest; pr != nil {
			payload, id := n.r.block()
			if err := n.core.Propose(pr.Height, pr.Round, id, payload); err != nil {
				n.r.t.Fatalf("propose: %v", err)
			}
		}
	}
}

type signature struct {
	key   sigKey
	block consensus.Hash
}

// signatures lists what this validator signed in a message it sends: its
// proposal, its vote, or its vote inside a certificate it formed.
func (n *tnode) signatures(m *consensus.Message) []signature {
	switch m.Kind {
	case consensus.KindProposal:
		if p := m.Proposal; p.Proposer == n.self {
			return []signature{{sigKey{p.Height, p.Round, "proposal"}, p.BlockID}}
		}
	case consensus.KindVote:
		if v := m.Vote; v.Validator == n.self {
			return []signature{{sigKey{v.Height, v.Round, v.Type.String()}, v.BlockID}}
		}
	case consensus.KindQC, consensus.KindAggregate:
		if q := m.QC; q.Signers.Has(n.self) {
			return []signature{{sigKey{q.Height, q.Round, q.Type.String()}, q.BlockID}}
		}
	}
	return nil
}

// checkMonotonic fails the test if a State goes back from the one
// persisted before at the same height: its round, its lock round, or its
// signed records (which only grow).
func (n *tnode) checkMonotonic(st *consensus.State) {
	n.r.t.Helper()
	prev := n.persisted
	if prev == nil || prev.Height != st.Height {
		return
	}
	if st.Round < prev.Round || int64(st.LockedRound) < int64(prev.LockedRound) || len(st.Signed) < len(prev.Signed) || !slices.Equal(st.Signed[:len(prev.Signed)], prev.Signed) {
		n.r.t.Errorf("v%d persisted a State that goes back: round %d, lock round %d, %d signed records after round %d, lock round %d, %d records",
			n.self, st.Round, int64(st.LockedRound), len(st.Signed), prev.Round, int64(prev.LockedRound), len(prev.Signed))
	}
}

// Kinds of State.Signed records, as the core numbers them.
var signedKinds = map[string]uint8{"proposal": 1, "prevote": 2, "precommit": 3}

// checkPersisted fails the test unless the last persisted State records
// the signature, or is already at a later height (the signed height is
// decided, and the core will not return to it).
func (n *tnode) checkPersisted(s signature, kind consensus.Kind) {
	n.r.t.Helper()
	st := n.persisted
	if st != nil && st.Height > s.key.height {
		return
	}
	if st != nil && st.Height == s.key.height {
		for _, rec := range st.Signed {
			if rec.Kind == signedKinds[s.key.kind] && rec.Round == s.key.round && rec.BlockID == s.block {
				return
			}
		}
	}
	n.r.t.Errorf("v%d sends a %v carrying its %s for %d/%d before persisting the record (ready %d)", n.self, kind, s.key.kind, s.key.height, s.key.round, n.readies)
}

func (n *tnode) record(s signature) {
	n.r.t.Helper()
	if prev, ok := n.signed[s.key]; ok && prev != s.block {
		msg := fmt.Sprintf("v%d signed two %ss at %d/%d: %x and %x", n.self, s.key.kind, s.key.height, s.key.round, prev[:4], s.block[:4])
		n.conflicts = append(n.conflicts, msg)
		if !n.expectConflicts {
			n.r.t.Error(msg)
		}
		return
	}
	n.signed[s.key] = s.block
}

// take returns the messages sent since the last take.
func (n *tnode) take() []consensus.Envelope {
	out := n.sent
	n.sent = nil
	return out
}

// votes returns the votes of a type this validator sent among msgs.
func (n *tnode) votes(msgs []consensus.Envelope, t consensus.VoteType) []*consensus.Vote {
	var out []*consensus.Vote
	for _, env := range msgs {
		if v := env.Msg.Vote; env.Msg.Kind == consensus.KindVote && v.Validator == n.self && v.Type == t {
			out = append(out, v)
		}
	}
	return out
}

// wantVote checks that exactly one vote of the type was sent among msgs,
// for the block, in the round.
func (n *tnode) wantVote(msgs []consensus.Envelope, t consensus.VoteType, round uint64, block consensus.Hash) {
	n.r.t.Helper()
	vs := n.votes(msgs, t)
	if len(vs) != 1 || vs[0].Round != round || vs[0].BlockID != block {
		n.r.t.Fatalf("v%d sent %s, want one %v for %x in round %d", n.self, describeVotes(vs), t, block[:4], round)
	}
}

func (n *tnode) wantNoVote(msgs []consensus.Envelope, t consensus.VoteType) {
	n.r.t.Helper()
	if vs := n.votes(msgs, t); len(vs) > 0 {
		n.r.t.Fatalf("v%d sent %s, want no %v", n.self, describeVotes(vs), t)
	}
}

func describeVotes(vs []*consensus.Vote) string {
	if len(vs) == 0 {
		return "no vote"
	}
	s := ""
	for _, v := range vs {
		s += fmt.Sprintf("[%v %d/%d %x] ", v.Type, v.Height, v.Round, v.BlockID[:4])
	}
	return s
}

func (n *tnode) wantLocked(round uint64, block consensus.Hash) {
	n.r.t.Helper()
	st := n.persisted
	if st.LockedRound != round || (round != consensus.NoRound && st.LockedBlock != block) {
		n.r.t.Fatalf("v%d locked in round %d on %x, want round %d on %x", n.self, int64(st.LockedRound), st.LockedBlock[:4], int64(round), block[:4])
	}
}

// lockOn makes n (not the leader) prevote, lock on and precommit a new
// block in the given round of height 0, which it must have entered. It
// returns the block.
func (n *tnode) lockOn(round uint64) ([]byte, consensus.Hash) {
	n.r.t.Helper()
	payload, id := n.r.block()
	n.take()
	n.mustStep(n.r.proposal(0, round, payload, nil))
	n.mustStep(qcMsg(n.r.pqc(0, round, id), n.r.set.Proposer(0, round)))
	msgs := n.take()
	n.wantVote(msgs, consensus.Prevote, round, id)
	n.wantVote(msgs, consensus.Precommit, round, id)
	n.wantLocked(round, id)
	return payload, id
}

// toRound moves n to a later round of height 0 with timeout certificates.
func (n *tnode) toRound(round uint64) {
	n.r.t.Helper()
	for n.core.Round() < round {
		n.mustStep(n.r.tcMsg(0, n.core.Round()))
	}
	if n.core.Round() != round {
		n.r.t.Fatalf("v%d in round %d, want %d", n.self, n.core.Round(), round)
	}
}

// TestCoreLeaderSchedule pins the leader schedule the other tests assume.
func TestCoreLeaderSchedule(t *testing.T) {
	r := newRig(t)
	var got []uint32
	for round := range uint64(8) {
		got = append(got, r.set.Proposer(0, round))
	}
	if want := []uint32{0, 3, 0, 0, 0, 3, 3, 1}; !slices.Equal(got, want) {
		t.Fatalf("leaders of height 0 = %v, want %v (the tests pick validators by this schedule)", got, want)
	}
}

// TestCoreLockRules checks the prevote rule of a locked validator: it
// prevotes the block it is locked on, or another block only with a proof
// of lock from a round at least as high as its lock.
func TestCoreLockRules(t *testing.T) {
	t.Run("no vote for another block without a POL", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		_, a := n.lockOn(0)
		n.toRound(1)
		other, _ := r.block()
		n.take()
		n.mustStep(r.proposal(0, 1, other, nil))
		n.wantNoVote(n.take(), consensus.Prevote)
		n.wantLocked(0, a)
	})
	t.Run("votes for the locked block without a POL", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := n.lockOn(0)
		n.toRound(1)
		n.take()
		n.mustStep(r.proposal(0, 1, pa, nil))
		n.wantVote(n.take(), consensus.Prevote, 1, a)
	})
	t.Run("no vote for a POL older than the lock", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pb, b := r.block()
		polB := r.pqc(0, 0, b) // round 0 certified b, but n never saw it
		n.toRound(1)
		_, a := n.lockOn(1)
		n.toRound(2)
		n.take()
		n.mustStep(r.proposal(0, 2, pb, polB))
		n.wantNoVote(n.take(), consensus.Prevote)
		n.wantLocked(1, a)
	})
	t.Run("a newer POL unlocks", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.lockOn(0)
		n.toRound(2)
		pb, b := r.block()
		n.take()
		n.mustStep(r.proposal(0, 2, pb, r.pqc(0, 1, b)))
		n.wantVote(n.take(), consensus.Prevote, 2, b)
		// And with the certificate of round 2 it locks on b.
		n.mustStep(qcMsg(r.pqc(0, 2, b), 0))
		n.wantVote(n.take(), consensus.Precommit, 2, b)
		n.wantLocked(2, b)
	})
	t.Run("a POL from the lock's own round unlocks", func(t *testing.T) {
		// Two certificates in one round need more than a third of the
		// stake to prevote twice; the rule is "at least as high" all the
		// same, as in Tendermint.
		r := newRig(t)
		n := r.node(1)
		n.toRound(1)
		n.lockOn(1)
		n.toRound(2)
		pb, b := r.block()
		n.take()
		n.mustStep(r.proposal(0, 2, pb, r.pqc(0, 1, b)))
		n.wantVote(n.take(), consensus.Prevote, 2, b)
	})
	t.Run("a prevote certificate of the round locks even without a prevote", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.lockOn(0)
		n.toRound(1)
		pb, b := r.block()
		n.take()
		n.mustStep(r.proposal(0, 1, pb, nil)) // locked on a: no prevote
		n.mustStep(qcMsg(r.pqc(0, 1, b), 3))
		msgs := n.take()
		n.wantNoVote(msgs, consensus.Prevote)
		n.wantVote(msgs, consensus.Precommit, 1, b)
		n.wantLocked(1, b)
	})
	t.Run("the leader re-proposes its valid block with the POL", func(t *testing.T) {
		r := newRig(t)
		n := r.node(3) // leads round 1
		pa, a := n.lockOn(0)
		n.take()
		n.mustStep(r.tcMsg(0, 0))
		var prop *consensus.Proposal
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindProposal {
				prop = env.Msg.Proposal
			}
		}
		if prop == nil || prop.Round != 1 || prop.BlockID != a || string(prop.Payload) != string(pa) || prop.ValidRound != 0 || prop.POL == nil || prop.POL.BlockID != a {
			t.Fatalf("round 1 proposal %+v, want block %x with the POL of round 0", prop, a[:4])
		}
	})
}

// TestCoreSignsOncePerRound checks that a validator never signs two
// different proposals, prevotes or precommits in one round.
func TestCoreSignsOncePerRound(t *testing.T) {
	t.Run("equivocating leader", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		pb, b := r.block()
		n.mustStep(r.proposal(0, 0, pa, nil))
		n.mustStep(r.proposal(0, 0, pb, nil))
		n.wantVote(n.take(), consensus.Prevote, 0, a)
		// Certificates for both blocks (a third of the stake prevoted
		// twice): it precommits the first only.
		n.mustStep(qcMsg(r.pqc(0, 0, b), 0))
		n.mustStep(qcMsg(r.pqc(0, 0, a), 0))
		n.wantVote(n.take(), consensus.Precommit, 0, b)
		n.wantLocked(0, b)
	})
	t.Run("leader proposes once", func(t *testing.T) {
		r := newRig(t)
		n := r.node(0) // leads round 0; the driver proposed on the request
		var first *consensus.Proposal
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindProposal {
				first = env.Msg.Proposal
			}
		}
		if first == nil {
			t.Fatal("the leader of round 0 did not propose")
		}
		payload, id := r.block()
		if err := n.core.Propose(0, 0, id, payload); !errors.Is(err, consensus.ErrInvalidState) {
			t.Fatalf("second Propose: %v, want ErrInvalidState", err)
		}
		n.drain()
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindProposal {
				t.Fatalf("a second proposal left: %x", env.Msg.Proposal.BlockID[:4])
			}
		}
		if err := n.core.Propose(0, 1, id, payload); !errors.Is(err, consensus.ErrInvalidState) {
			t.Fatalf("Propose for another round: %v, want ErrInvalidState", err)
		}
	})
	t.Run("the signed record alone refuses a second prevote", func(t *testing.T) {
		// The step guards the prevote too; roll it back in the persisted
		// state to check the last line of defence.
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		n.mustStep(r.proposal(0, 0, pa, nil))
		n.wantVote(n.take(), consensus.Prevote, 0, a)
		st := *n.persisted
		st.Step = consensus.StepPropose
		n.start(0, &st)
		pb, _ := r.block()
		n.mustStep(r.proposal(0, 0, pb, nil))
		n.wantNoVote(n.take(), consensus.Prevote)
	})
	t.Run("the signed record alone refuses a second precommit", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.lockOn(0)
		st := *n.persisted
		st.Step = consensus.StepPrevote
		n.start(0, &st)
		pb, b := r.block()
		n.mustStep(r.proposal(0, 0, pb, nil))
		n.mustStep(qcMsg(r.pqc(0, 0, b), 0))
		n.wantNoVote(n.take(), consensus.Precommit)
	})
}

// TestCoreRejects checks that bad messages are refused with the right
// error and change nothing.
func TestCoreRejects(t *testing.T) {
	r := newRig(t)
	pa, a := r.block()
	corrupt := func(sig []byte) []byte {
		out := slices.Clone(sig)
		out[len(out)-1] ^= 1
		return out
	}
	goodQC := r.pqc(0, 0, a)
	badSigQC := *goodQC
	badSigQC.Sig = r.qc(consensus.Prevote, 0, 0, r.tag, 0, 1, 3).Sig // signs another block
	wrongSigners := *goodQC
	wrongSigners.Signers = r.qc(consensus.Prevote, 0, 0, a, 0, 1, 2).Signers
	cases := []struct {
		name string
		msg  func() *consensus.Message
		want error
	}{
		{"proposal from a validator that does not lead the round", func() *consensus.Message {
			return r.proposalFrom(2, 0, 0, pa, nil)
		}, consensus.ErrWrongLeader},
		{"proposal with a bad signature", func() *consensus.Message {
			m := r.proposal(0, 0, pa, nil)
			m.Proposal.Sig = corrupt(m.Proposal.Sig)
			return m
		}, consensus.ErrBadSignature},
		{"proposal signed for another round", func() *consensus.Message {
			m := r.proposal(0, 0, pa, nil)
			m.Proposal.Sig = r.proposal(0, 2, pa, nil).Proposal.Sig // same leader, round 2
			return m
		}, consensus.ErrBadSignature},
		{"proposal with a sub-quorum POL", func() *consensus.Message {
			return r.proposal(0, 1, pa, r.qc(consensus.Prevote, 0, 0, a, 0, 3))
		}, consensus.ErrNoQuorum},
		{"proposal with a POL for another block", func() *consensus.Message {
			_, b := r.block()
			return r.proposal(0, 1, pa, r.pqc(0, 0, b))
		}, consensus.ErrNoQuorum},
		{"proposal with a POL of its own round", func() *consensus.Message {
			return r.proposal(0, 1, pa, r.pqc(0, 1, a))
		}, consensus.ErrNoQuorum},
		{"proposal with a valid round and no POL", func() *consensus.Message {
			m := r.proposal(0, 1, pa, nil)
			m.Proposal.ValidRound = 0
			m.Proposal.Sig = r.sign(3, consensus.ProposalSignBytes(r.tag, 0, 1, a, 0))
			return m
		}, consensus.ErrNoQuorum},
		{"proposal with a badly signed POL", func() *consensus.Message {
			return r.proposal(0, 1, pa, &badSigQC)
		}, consensus.ErrBadSignature},
		{"certificate of two validators", func() *consensus.Message {
			return qcMsg(r.qc(consensus.Prevote, 0, 0, a, 0, 3), 0)
		}, consensus.ErrNoQuorum},
		{"commit certificate of two validators", func() *consensus.Message {
			return qcMsg(r.qc(consensus.Precommit, 0, 0, a, 0, 3), 0)
		}, consensus.ErrNoQuorum},
		{"certificate with a bad signature", func() *consensus.Message {
			return qcMsg(&badSigQC, 0)
		}, consensus.ErrBadSignature},
		{"certificate claiming other signers", func() *consensus.Message {
			return qcMsg(&wrongSigners, 0)
		}, consensus.ErrBadSignature},
		{"certificate with a short bitmap", func() *consensus.Message {
			q := *goodQC
			q.Signers = consensus.Bitmap{}
			return qcMsg(&q, 0)
		}, consensus.ErrNoQuorum},
		{"timeout certificate of two validators", func() *consensus.Message {
			return &consensus.Message{Kind: consensus.KindTC, TC: r.tc(0, 0, 0, 3)}
		}, consensus.ErrNoQuorum},
		{"timeout certificate with a bad signature", func() *consensus.Message {
			tc := r.tc(0, 0, 0, 1, 3)
			tc.Sig = r.tc(0, 1, 0, 1, 3).Sig
			return &consensus.Message{Kind: consensus.KindTC, TC: tc}
		}, consensus.ErrBadSignature},
		{"timeout with a bad signature", func() *consensus.Message {
			m := r.timeout(2, 0, 0)
			m.Timeout.Sig = corrupt(m.Timeout.Sig)
			return m
		}, consensus.ErrBadSignature},
		{"timeout relayed under another sender", func() *consensus.Message {
			m := r.timeout(2, 0, 0)
			m.From = 3
			return m
		}, consensus.ErrNotValidator},
		{"vote relayed under another sender", func() *consensus.Message {
			m := r.vote(2, consensus.Prevote, 0, 0, a)
			m.From = 3
			return m
		}, consensus.ErrNotValidator},
		{"sender outside the set", func() *consensus.Message {
			m := r.vote(2, consensus.Prevote, 0, 0, a)
			m.From = rigValidators
			return m
		}, consensus.ErrNotValidator},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			n := r.node(1)
			n.take()
			before := *n.persisted
			if err := n.step(tc.msg()); !errors.Is(err, tc.want) {
				t.Fatalf("Step = %v, want %v", err, tc.want)
			}
			if msgs := n.take(); len(msgs) > 0 {
				t.Fatalf("a rejected message made the core send %d messages", len(msgs))
			}
			if n.core.Round() != 0 || n.persisted.Step != before.Step || n.persisted.LockedRound != consensus.NoRound || n.persisted.ValidRound != consensus.NoRound {
				t.Fatalf("a rejected message changed the state: %+v", n.persisted)
			}
		})
	}
	t.Run("bad votes at the leader", func(t *testing.T) {
		r.t = t
		n := r.node(0) // leads round 0 and has proposed and prevoted
		block := n.signed[sigKey{0, 0, "proposal"}]
		m := r.vote(1, consensus.Prevote, 0, 0, block)
		m.Vote.Sig = corrupt(m.Vote.Sig)
		_ = n.step(m) // checked lazily, once the votes could make a quorum
		n.mustStep(r.vote(3, consensus.Prevote, 0, 0, block))
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindQC {
				t.Fatalf("the leader formed a certificate with a bad vote: signers %v", env.Msg.QC.Signers.Members())
			}
		}
		if st := n.core.Stats(); st.BadSignatures != 1 {
			t.Fatalf("bad signatures counted %d, want 1", st.BadSignatures)
		}
		// The good vote of validator 2 completes a quorum without 1.
		n.mustStep(r.vote(2, consensus.Prevote, 0, 0, block))
		var qc *consensus.QC
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindQC {
				qc = env.Msg.QC
			}
		}
		if qc == nil || !slices.Equal(qc.Signers.Members(), []uint32{0, 2, 3}) {
			t.Fatalf("certificate %+v, want one signed by 0, 2 and 3", qc)
		}
	})
	t.Run("stale height", func(t *testing.T) {
		r.t = t
		n := r.node(1)
		n.mustStep(r.proposal(0, 0, pa, nil))
		n.mustStep(qcMsg(r.cqc(0, 0, a), 0))
		if n.core.Height() != 1 {
			t.Fatalf("height %d after a commit certificate, want 1", n.core.Height())
		}
		if err := n.step(r.vote(2, consensus.Prevote, 0, 0, a)); !errors.Is(err, consensus.ErrStale) {
			t.Fatalf("vote for a decided height: %v, want ErrStale", err)
		}
		if err := n.core.StepCommitted(pa, r.cqc(0, 0, a)); !errors.Is(err, consensus.ErrStale) {
			t.Fatalf("StepCommitted for a decided height: %v, want ErrStale", err)
		}
	})
	t.Run("committed block with a sub-quorum certificate", func(t *testing.T) {
		r.t = t
		n := r.node(1)
		if err := n.core.StepCommitted(pa, r.qc(consensus.Precommit, 0, 0, a, 0, 1)); !errors.Is(err, consensus.ErrNoQuorum) {
			t.Fatalf("StepCommitted = %v, want ErrNoQuorum", err)
		}
		if err := n.core.StepCommitted(pa, r.pqc(0, 0, a)); err == nil {
			t.Fatal("StepCommitted accepted a prevote certificate")
		}
		n.drain()
		if len(n.commits) != 0 || n.core.Height() != 0 {
			t.Fatalf("committed on a bad certificate")
		}
	})
}

// TestCoreTimeouts checks the pacemaker: round timeouts grow by half up to
// the maximum, a timeout certificate moves to the next round, and more
// than a third of the stake timing out makes a validator join.
func TestCoreTimeouts(t *testing.T) {
	timeoutAfter := func(n *tnode) int {
		n.take()
		round := n.core.Round()
		for i := 1; i <= 100; i++ {
			n.tick(1)
			for _, env := range n.take() {
				if m := env.Msg; m.Kind == consensus.KindTimeout && m.Timeout.Round == round {
					return i
				}
			}
		}
		n.r.t.Fatalf("no timeout in round %d after 100 ticks", round)
		return 0
	}
	t.Run("timeouts grow and certificates move on", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		want := []int{10, 15, 22, 33, 40, 40}
		for round, w := range want {
			if got := timeoutAfter(n); got != w {
				t.Fatalf("round %d timed out after %d ticks, want %d", round, got, w)
			}
			// The timeout is repeated every timeout while the round lasts.
			if got := timeoutAfter(n); got != w {
				t.Fatalf("round %d repeated its timeout after %d ticks, want %d", round, got, w)
			}
			n.mustStep(r.tcMsg(0, uint64(round)))
			if n.core.Round() != uint64(round+1) {
				t.Fatalf("round %d after a timeout certificate of round %d", n.core.Round(), round)
			}
		}
	})
	t.Run("a certificate for a later round jumps past it", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.mustStep(r.tcMsg(0, 3))
		if n.core.Round() != 4 {
			t.Fatalf("round %d, want 4", n.core.Round())
		}
		n.mustStep(r.tcMsg(0, 2)) // an old one changes nothing
		if n.core.Round() != 4 {
			t.Fatalf("round %d after an old certificate, want 4", n.core.Round())
		}
	})
	t.Run("the next leader forwards the certificate", func(t *testing.T) {
		r := newRig(t)
		n := r.node(3) // leads round 1
		n.take()
		n.mustStep(r.tcMsg(0, 0))
		found := false
		for _, env := range n.take() {
			if m := env.Msg; m.Kind == consensus.KindTC && m.TC.Round == 0 && len(env.To) == 0 {
				found = true
			}
		}
		if !found {
			t.Fatal("the leader of round 1 did not broadcast the timeout certificate of round 0")
		}
	})
	t.Run("a third of the stake is not enough to join", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.take()
		n.mustStep(r.timeout(2, 0, 0))
		for _, env := range n.take() {
			if env.Msg.Kind == consensus.KindTimeout {
				t.Fatal("joined the timeout of one validator in four")
			}
		}
	})
	t.Run("more than a third joins", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.take()
		n.mustStep(r.timeout(2, 0, 0))
		n.mustStep(r.timeout(3, 0, 0))
		joined := false
		for _, env := range n.take() {
			if m := env.Msg; m.Kind == consensus.KindTimeout && m.Timeout.Validator == 1 && m.Timeout.Round == 0 {
				joined = true
			}
		}
		if !joined {
			t.Fatal("two timeouts in four did not make the validator time out")
		}
		// Its own timeout makes three: a certificate, and round 1.
		if n.core.Round() != 1 {
			t.Fatalf("round %d, want 1", n.core.Round())
		}
	})
	t.Run("more than a third in a later round pulls the validator there", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.mustStep(r.timeout(2, 0, 3))
		if n.core.Round() != 0 {
			t.Fatalf("round %d after one timeout of round 3, want 0", n.core.Round())
		}
		n.mustStep(r.timeout(3, 0, 3))
		if n.core.Round() != 4 {
			t.Fatalf("round %d after two timeouts of round 3 (and its own), want 4", n.core.Round())
		}
	})
}

// TestCoreCommits checks that a precommit certificate of any round commits
// its block, fetching it when the proposal was missed.
func TestCoreCommits(t *testing.T) {
	wantCommit := func(n *tnode, block consensus.Hash, round uint64) {
		n.r.t.Helper()
		if len(n.commits) != 1 || n.commits[0].Height != 0 || n.commits[0].BlockID != block || n.commits[0].QC.Round != round {
			n.r.t.Fatalf("commits %+v, want block %x at height 0 with a certificate of round %d", n.commits, block[:4], round)
		}
		if n.core.Height() != 1 || n.core.Round() != 0 || n.persisted.Height != 1 {
			n.r.t.Fatalf("core at %d/%d (persisted height %d) after the commit, want 1/0", n.core.Height(), n.core.Round(), n.persisted.Height)
		}
	}
	t.Run("earlier round", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		n.mustStep(r.proposal(0, 0, pa, nil))
		n.toRound(3)
		n.mustStep(qcMsg(r.cqc(0, 0, a), 2))
		wantCommit(n, a, 0)
	})
	t.Run("later round", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		n.mustStep(r.proposal(0, 0, pa, nil))
		n.mustStep(qcMsg(r.cqc(0, 5, a), 2))
		wantCommit(n, a, 5)
	})
	t.Run("while locked on another block", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		n.lockOn(0)
		n.toRound(1)
		pb, b := r.block()
		n.mustStep(r.proposal(0, 1, pb, nil))
		n.mustStep(qcMsg(r.cqc(0, 1, b), 3))
		wantCommit(n, b, 1)
	})
	t.Run("unknown block is fetched", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		qc := r.cqc(0, 2, a)
		n.mustStep(qcMsg(qc, 2))
		if len(n.commits) != 0 {
			t.Fatal("committed a block it does not have")
		}
		if len(n.fetches) != 1 || n.fetches[0].Height != 0 {
			t.Fatalf("fetches %+v, want one for height 0", n.fetches)
		}
		if err := n.core.StepCommitted(pa, qc); err != nil {
			t.Fatal(err)
		}
		n.drain()
		wantCommit(n, a, 2)
	})
	t.Run("proposal after the certificate", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		pa, a := r.block()
		n.mustStep(qcMsg(r.cqc(0, 1, a), 2))
		n.toRound(1)
		n.mustStep(r.proposal(0, 1, pa, nil))
		wantCommit(n, a, 1)
	})
}

// TestCoreRelayedProposal checks that a block validators are locked on
// reaches a next leader that missed its proposal: a validator that times
// out sends the next leader the proposal with the prevote certificate, and
// the leader, given a proposal relayed by someone other than its proposer
// for a past round, re-proposes that block with its proof of lock. Without
// this a leader that missed the block proposes another, which the locked
// validators refuse, for as many rounds as it leads.
func TestCoreRelayedProposal(t *testing.T) {
	t.Run("a timing-out validator forwards the locked block", func(t *testing.T) {
		r := newRig(t)
		n := r.node(1)
		_, id := n.lockOn(0)
		n.take()
		var proposal, cert bool
		for i := 0; i < 100 && !(proposal && cert); i++ {
			n.tick(1)
			for _, env := range n.take() {
				if len(env.To) != 1 || env.To[0] != r.set.Proposer(0, 1) {
					continue
				}
				switch m := env.Msg; m.Kind {
				case consensus.KindProposal:
					proposal = proposal || (m.Proposal.BlockID == id && m.Proposal.Round == 0)
				case consensus.KindQC:
					cert = cert || (m.QC.BlockID == id && m.QC.Type == consensus.Prevote && m.QC.Round == 0)
				}
			}
		}
		if !proposal || !cert {
			t.Fatalf("on timeout, sent the next leader proposal %v and certificate %v, want both", proposal, cert)
		}
	})
	t.Run("the next leader re-proposes a relayed block", func(t *testing.T) {
		r := newRig(t)
		n := r.node(3) // leads rounds 1, 5 and 6
		n.toRound(2)
		payload, id := r.block()
		n.mustStep(qcMsg(r.pqc(0, 0, id), 1))
		relayed := r.proposal(0, 0, payload, nil)
		relayed.From = 1
		n.mustStep(relayed)
		n.take()
		n.toRound(5)
		var got *consensus.Proposal
		for _, env := range n.take() {
			if m := env.Msg; m.Kind == consensus.KindProposal && m.Proposal.Round == 5 {
				got = m.Proposal
			}
		}
		if got == nil || got.BlockID != id || got.ValidRound != 0 || got.POL == nil {
			t.Fatalf("round 5 proposal %+v, want block %x with the round-0 proof of lock", got, id[:4])
		}
	})
}

// TestCoreVoteResentToLeader checks that a vote sent straight to the
// leader (one committee) is sent again once when no certificate follows:
// on a lossy network nothing else would resend it, and a leader missing
// one vote of a bare quorum loses the round.
func TestCoreVoteResentToLeader(t *testing.T) {
	r := newRig(t)
	n := r.node(1)
	payload, id := r.block()
	n.mustStep(r.proposal(0, 0, payload, nil))
	leader := r.set.Proposer(0, 0)
	count := func(msgs []consensus.Envelope) int {
		k := 0
		for _, env := range msgs {
			if v := env.Msg.Vote; env.Msg.Kind == consensus.KindVote && v.Type == consensus.Prevote && v.BlockID == id && len(env.To) == 1 && env.To[0] == leader {
				k++
			}
		}
		return k
	}
	if got := count(n.take()); got != 1 {
		t.Fatalf("prevotes to the leader on the proposal: %d, want 1", got)
	}
	n.tick(4) // FallbackTicks is 5
	if got := count(n.take()); got != 0 {
		t.Fatalf("prevote resent after 4 ticks: %d", got)
	}
	n.tick(1)
	if got := count(n.take()); got != 1 {
		t.Fatalf("prevotes resent after the fallback delay: %d, want 1", got)
	}
	n.tick(20)
	if got := count(n.take()); got != 0 {
		t.Fatalf("prevote resent %d more times, want once", got)
	}
}
