package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/bizra/node0/chain"
)

// Core is the consensus state machine of one validator: Tendermint's
// two-phase rounds, with votes collected by committee aggregators and the
// round's leader into BLS quorum certificates. It does no I/O, starts no
// goroutine, reads no clock and uses no randomness: the driver feeds it
// messages (Step), time (Tick) and blocks (Propose, StepCommitted), and
// carries out what Ready asks.
type Core struct {
	cfg   Config
	vals  *ValidatorSet
	log   *slog.Logger
	st    State
	now   uint64 // ticks
	seed  Hash
	comms *Committees

	// Per height.
	proposals   map[uint64]*Proposal // round → the leader's first valid proposal
	payloads    map[Hash][]byte      // block → payload of a valid proposal
	prevoteQCs  map[uint64]*QC       // round → prevote quorum certificate
	commitQC    *QC                  // a precommit certificate waiting for its payload
	collect     map[voteKey]*voteSet // votes this validator aggregates or leads
	timeouts    map[uint64]*timeoutSet
	deadline    uint64 // round timeout, in ticks
	timedOut    bool
	myVotes     map[voteKey]*myVote // this validator's votes, for the fallback
	future      []*Message          // messages for the next height, replayed after commit
	fetchedAt   map[uint64]uint64
	proposedFor bool // a proposal was requested or made this round

	// signFrom is the lowest height this core signs proposals and votes
	// at. A driver that crashed after persisting the State of a Ready that
	// commits a block, but before applying the block, restarts with a
	// State one height ahead of its chain: the record of what this
	// validator signed at the chain's next height is gone, so it must not
	// sign there again. It learns the block from the others' certificate.
	signFrom uint64

	// tc is the highest timeout certificate of this height that this
	// validator received; see certified.
	tc *TC

	// resendAt is when a leader whose round has not decided sends its
	// proposal and the round's prevote certificate again, resendGap the
	// wait after that (doubling); see resend.
	resendAt, resendGap uint64

	// Outputs since the last Advance.
	out      Ready
	outState bool

	stats Stats
}

type myVote struct {
	v        *Vote
	at       uint64 // tick it was cast
	fellBack bool
}

type voteKey struct {
	t     VoteType
	round uint64
	block Hash
}

// NewCore builds a core.
func NewCore(cfg Config, start Start) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Core{cfg: cfg, vals: cfg.Validators, log: cfg.Logger.With("module", "consensus", "self", cfg.Self), seed: start.EpochSeed}
	c.comms = c.vals.Assign(c.seed, cfg.Committees)
	if start.State != nil && start.State.Height == start.Height {
		c.st = *start.State
		c.st.Signed = slices.Clone(c.st.Signed) // the caller's slice may be shared
		c.resetHeight()
		c.enterRound(c.st.Round, true)
	} else {
		if start.State != nil && start.State.Height > start.Height {
			c.signFrom = start.State.Height
		}
		c.st = State{Height: start.Height, LockedRound: NoRound, ValidRound: NoRound}
		c.resetHeight()
		c.enterRound(0, false)
	}
	return c, nil
}

func (c *Core) resetHeight() {
	c.proposals = map[uint64]*Proposal{}
	c.payloads = map[Hash][]byte{}
	c.prevoteQCs = map[uint64]*QC{}
	c.commitQC = nil
	c.collect = map[voteKey]*voteSet{}
	c.timeouts = map[uint64]*timeoutSet{}
	c.myVotes = map[voteKey]*myVote{}
	c.fetchedAt = map[uint64]uint64{}
	c.tc = nil
	if c.st.LockedRound != NoRound {
		c.payloads[c.st.LockedBlock] = c.st.LockedPayload
	}
	if c.st.ValidRound != NoRound {
		c.payloads[c.st.ValidBlock] = c.st.ValidPayload
	}
}

// Height returns the height being decided.
func (c *Core) Height() uint64 { return c.st.Height }

// Round returns the current round.
func (c *Core) Round() uint64 { return c.st.Round }

// Committees returns the committee assignment of the current epoch. It is
// never changed in place, so it may be read from other goroutines.
func (c *Core) Committees() *Committees { return c.comms }

// Leader returns the leader of the current round.
func (c *Core) Leader() uint32 { return c.vals.Proposer(c.st.Height, c.st.Round) }

// timeout returns the timeout of a round in ticks.
func (c *Core) timeout(round uint64) uint64 {
	t := c.cfg.TimeoutTicks
	for range min(round, 64) {
		t += t * c.cfg.TimeoutGrowthPercent / 100
		if t >= c.cfg.MaxTimeoutTicks {
			return c.cfg.MaxTimeoutTicks
		}
	}
	return t
}

func (c *Core) persist() { c.outState = true }

func (c *Core) send(to []uint32, m *Message) {
	m.From = c.cfg.Self
	c.out.Messages = append(c.out.Messages, Envelope{To: to, Msg: m})
}

// Ready returns what the driver must do; Advance acknowledges it.
func (c *Core) Ready() Ready {
	rd := c.out
	if c.outState {
		st := c.st
		st.Signed = slices.Clone(c.st.Signed)
		rd.State = &st
	}
	return rd
}

// Advance acknowledges the last Ready.
func (c *Core) Advance() {
	c.out = Ready{}
	c.outState = false
}

// enterRound starts a round: a fresh timeout, and for the leader a
// proposal (the valid block if there is one, else a new one).
func (c *Core) enterRound(r uint64, restart bool) {
	if !restart {
		c.st.Round, c.st.Step = r, StepPropose
		c.persist()
	}
	c.stats.Rounds++
	c.deadline = c.now + c.timeout(r)
	c.timedOut = false
	c.proposedFor = false
	c.resendGap = c.cfg.FallbackTicks
	c.resendAt = c.now + c.resendGap
	c.log.Debug("round", "height", c.st.Height, "round", r, "leader", c.Leader())
	if c.Leader() == c.cfg.Self && c.st.Height >= c.signFrom {
		c.proposedFor = true
		if qc := c.highestPOL(r); qc != nil {
			// Re-propose the block with the highest prevote certificate:
			// validators locked on it vote for it, and the certificate
			// lets those locked on older ones switch.
			c.propose(qc.BlockID, c.payloads[qc.BlockID], qc.Round, qc)
		} else if rec, ok := c.signedFor(signedProposal, r); ok {
			// Restarted after proposing: propose the same block again.
			if p, ok := c.payloads[rec]; ok {
				c.propose(rec, p, NoRound, nil)
			}
		} else {
			c.out.ProposalRequest = &ProposalRequest{Height: c.st.Height, Round: r}
		}
	}
	if p := c.proposals[r]; p != nil {
		c.onProposal(p)
	}
	if qc := c.prevoteQCs[r]; qc != nil {
		c.onPrevoteQC(qc)
	}
}

// highestPOL returns the prevote certificate of the highest round before r
// whose block is known, or nil.
func (c *Core) highestPOL(r uint64) *QC {
	var best *QC
	consider := func(qc *QC) {
		if qc == nil || qc.Round >= r {
			return
		}
		if _, ok := c.payloads[qc.BlockID]; !ok {
			return
		}
		if best == nil || qc.Round > best.Round {
			best = qc
		}
	}
	consider(c.st.ValidQC)
	for _, qc := range c.prevoteQCs {
		consider(qc)
	}
	return best
}

// Propose gives the core the block it asked for with a ProposalRequest.
func (c *Core) Propose(height, round uint64, block Hash, payload []byte) error {
	if height != c.st.Height || round != c.st.Round || c.Leader() != c.cfg.Self {
		return fmt.Errorf("%w: proposal for %d/%d, core at %d/%d", ErrInvalidState, height, round, c.st.Height, c.st.Round)
	}
	if _, done := c.signedFor(signedProposal, round); done {
		return fmt.Errorf("%w: already proposed in round %d", ErrInvalidState, round)
	}
	c.propose(block, payload, NoRound, nil)
	return nil
}

func (c *Core) propose(block Hash, payload []byte, validRound uint64, pol *QC) {
	if prev, done := c.signedFor(signedProposal, c.st.Round); (done && prev != block) || c.st.Height < c.signFrom {
		return // never two proposals in one round
	}
	c.sign(signedProposal, c.st.Round, block)
	p := &Proposal{
		Height: c.st.Height, Round: c.st.Round, BlockID: block, Payload: payload,
		ValidRound: validRound, POL: pol, Proposer: c.cfg.Self,
	}
	p.Sig = c.cfg.Crypto.Sign(ProposalSignBytes(c.cfg.ChainTag, p.Height, p.Round, block, validRound))
	c.send(nil, &Message{Kind: KindProposal, Proposal: p})
	c.acceptProposal(p)
}

func (c *Core) signedFor(kind uint8, round uint64) (Hash, bool) {
	for _, s := range c.st.Signed {
		if s.Kind == kind && s.Round == round {
			return s.BlockID, true
		}
	}
	return Hash{}, false
}

func (c *Core) sign(kind uint8, round uint64, block Hash) {
	if _, ok := c.signedFor(kind, round); !ok {
		c.st.Signed = append(c.st.Signed, signed{Kind: kind, Round: round, BlockID: block})
		c.persist()
	}
}

// Step processes a message from another validator. A proposal must have
// been checked by the driver first: only proposals whose payload is a valid
// block on the block this height extends are stepped, so a driver holds a
// proposal for a later height until it has committed the heights before.
func (c *Core) Step(m *Message) error {
	if int(m.From) >= c.vals.Len() {
		return ErrNotValidator
	}
	h := m.Height()
	if h < c.st.Height {
		return ErrStale
	}
	if h > c.st.Height {
		c.onFuture(m)
		return nil
	}
	switch m.Kind {
	case KindProposal:
		return c.stepProposal(m)
	case KindVote:
		return c.stepVote(m)
	case KindAggregate:
		return c.stepAggregate(m)
	case KindQC:
		return c.stepQC(m.QC)
	case KindTimeout:
		return c.stepTimeout(m)
	case KindTC:
		round := c.st.Round
		err := c.stepTC(m.TC)
		if err == nil && m.TC.Round >= round && m.Height() == c.st.Height {
			c.tc = m.TC // checked: it moved this validator on
		}
		return err
	}
	return ErrDecode
}

// onFuture keeps messages for the next height (a fast leader's proposal
// arrives before this validator commits) and asks for blocks it missed.
func (c *Core) onFuture(m *Message) {
	h := m.Height()
	if h == c.st.Height+1 && len(c.future) < 4*c.vals.Len()+64 {
		c.future = append(c.future, m)
	}
	// A validator at a later height has committed ours: fetch it, at most
	// once per timeout.
	if last, ok := c.fetchedAt[c.st.Height]; !ok || c.now >= last+c.cfg.TimeoutTicks {
		c.fetchedAt[c.st.Height] = c.now
		c.out.Fetches = append(c.out.Fetches, Fetch{Height: c.st.Height, From: m.From})
	}
}

// stepProposal checks a proposal. It may come from any validator: the
// leader's signature is what counts, and validators forward a proposal to
// the next leader with its prevote certificate (see onTimeout).
func (c *Core) stepProposal(m *Message) error {
	p := m.Proposal
	if p.Proposer != c.vals.Proposer(p.Height, p.Round) {
		return ErrWrongLeader
	}
	if err := checkProposal(c.cfg.ChainTag, c.vals, c.cfg.Crypto, p); err != nil {
		c.stats.BadSignatures++
		return err
	}
	if err := POLFits(p); err != nil {
		return err
	}
	if p.POL != nil {
		if err := c.verifyQC(p.POL); err != nil {
			return err
		}
	}
	c.acceptProposal(p)
	return nil
}

func (c *Core) acceptProposal(p *Proposal) {
	if _, ok := c.payloads[p.BlockID]; !ok {
		c.payloads[p.BlockID] = p.Payload
	}
	if p.POL != nil {
		c.addPrevoteQC(p.POL)
	}
	if prev := c.proposals[p.Round]; prev != nil {
		if prev.BlockID != p.BlockID {
			c.log.Debug("equivocating leader", "height", p.Height, "round", p.Round, "leader", p.Proposer)
		}
		return
	}
	c.proposals[p.Round] = p
	if p.Round == c.st.Round {
		c.onProposal(p)
	}
	if c.commitQC != nil && c.commitQC.BlockID == p.BlockID {
		c.commit(c.commitQC)
	}
}

// onProposal applies the prevote rule to the current round's proposal.
func (c *Core) onProposal(p *Proposal) {
	if c.st.Step != StepPropose || p.Round != c.st.Round {
		if qc := c.prevoteQCs[c.st.Round]; qc != nil && qc.BlockID == p.BlockID {
			c.onPrevoteQC(qc)
		}
		return
	}
	vote := c.st.LockedRound == NoRound || c.st.LockedBlock == p.BlockID
	if !vote && p.POL != nil && p.ValidRound >= c.st.LockedRound && p.ValidRound < p.Round {
		vote = true // a newer prevote certificate unlocks
	}
	c.st.Step = StepPrevote
	c.persist()
	if vote {
		c.vote(Prevote, p.BlockID)
	}
	if qc := c.prevoteQCs[c.st.Round]; qc != nil {
		c.onPrevoteQC(qc)
	}
}

// vote signs and sends this validator's vote to its committee's aggregator
// (or the leader), unless it has signed another block in this phase.
func (c *Core) vote(t VoteType, block Hash) {
	kind := signedPrevote
	if t == Precommit {
		kind = signedPrecommit
	}
	if prev, done := c.signedFor(kind, c.st.Round); (done && prev != block) || c.st.Height < c.signFrom {
		return
	}
	c.sign(kind, c.st.Round, block)
	v := &Vote{Type: t, Height: c.st.Height, Round: c.st.Round, BlockID: block, Validator: c.cfg.Self}
	v.Sig = c.cfg.Crypto.Sign(VoteSignBytes(c.cfg.ChainTag, t, v.Height, v.Round, block))
	key := voteKey{t, v.Round, block}
	c.myVotes[key] = &myVote{v: v, at: c.now}
	to := c.voteTarget(c.cfg.Self, v.Round)
	if to == c.cfg.Self {
		c.collectVote(v)
	} else {
		c.send([]uint32{to}, &Message{Kind: KindVote, Vote: v})
	}
}

// voteTarget is where validator v sends its votes of a round: its
// committee's aggregator, or the leader with one committee.
func (c *Core) voteTarget(v uint32, round uint64) uint32 {
	if a, ok := c.comms.Aggregator(c.st.Height, round, c.comms.Of(v)); ok {
		return a
	}
	return c.vals.Proposer(c.st.Height, round)
}

func (c *Core) stepVote(m *Message) error {
	v := m.Vote
	if m.From != v.Validator {
		return ErrNotValidator
	}
	c.stats.VotesReceived++
	return c.collectVote(v)
}

// stepQC handles a broadcast certificate.
func (c *Core) stepQC(qc *QC) error {
	if err := c.verifyQC(qc); err != nil {
		return err
	}
	switch qc.Type {
	case Prevote:
		c.addPrevoteQC(qc)
	case Precommit:
		c.onCommitQC(qc)
	}
	return nil
}

// verifyQC checks a quorum certificate: its signers hold more than two
// thirds of the stake and its aggregate signature verifies.
func (c *Core) verifyQC(qc *QC) error {
	err := VerifyQC(c.cfg.ChainTag, c.vals, c.cfg.Crypto, qc)
	if errors.Is(err, ErrBadSignature) {
		c.stats.BadSignatures++
	}
	return err
}

func (c *Core) addPrevoteQC(qc *QC) {
	if _, ok := c.prevoteQCs[qc.Round]; ok {
		return
	}
	c.prevoteQCs[qc.Round] = qc
	if qc.Round > c.st.Round {
		// A quorum is already in a later round: join it.
		c.enterRound(qc.Round, false)
		return
	}
	if qc.Round == c.st.Round {
		c.onPrevoteQC(qc)
	}
}

// onPrevoteQC locks on and precommits a block with a prevote certificate of
// the current round, once its proposal is known.
func (c *Core) onPrevoteQC(qc *QC) {
	if qc.Round != c.st.Round {
		return
	}
	payload, known := c.payloads[qc.BlockID]
	if !known {
		return // wait for the proposal
	}
	if c.st.Step == StepPropose {
		return // onProposal will come back here
	}
	if c.st.Step == StepPrevote {
		c.st.LockedRound, c.st.LockedBlock, c.st.LockedPayload = qc.Round, qc.BlockID, payload
		c.st.Step = StepPrecommit
		c.vote(Precommit, qc.BlockID)
	}
	if c.st.ValidRound == NoRound || qc.Round > c.st.ValidRound {
		c.st.ValidRound, c.st.ValidBlock, c.st.ValidPayload, c.st.ValidQC = qc.Round, qc.BlockID, payload, qc
	}
	c.persist()
}

// onCommitQC commits a block with a precommit certificate of any round of
// this height, once its payload is known.
func (c *Core) onCommitQC(qc *QC) {
	if qc.Height != c.st.Height {
		return
	}
	if _, ok := c.payloads[qc.BlockID]; ok {
		c.commit(qc)
		return
	}
	c.commitQC = qc
	if last, ok := c.fetchedAt[c.st.Height]; !ok || c.now >= last+c.cfg.TimeoutTicks {
		c.fetchedAt[c.st.Height] = c.now
		c.out.Fetches = append(c.out.Fetches, Fetch{Height: c.st.Height, From: c.vals.Proposer(qc.Height, qc.Round)})
	}
}

// StepCommitted gives the core a committed block it fetched: payload with
// its precommit certificate. The driver has checked that the payload's
// hash is the certificate's block.
func (c *Core) StepCommitted(payload []byte, qc *QC) error {
	if qc.Type != Precommit || qc.Height != c.st.Height {
		return fmt.Errorf("%w: committed block for %d, core at %d", ErrStale, qc.Height, c.st.Height)
	}
	if err := c.verifyQC(qc); err != nil {
		return err
	}
	c.payloads[qc.BlockID] = payload
	c.commit(qc)
	return nil
}

func (c *Core) commit(qc *QC) {
	payload := c.payloads[qc.BlockID]
	c.stats.Commits++
	c.out.Commits = append(c.out.Commits, Commit{Height: qc.Height, BlockID: qc.BlockID, Payload: payload, QC: qc})
	c.log.Debug("commit", "height", qc.Height, "round", qc.Round, "block", qc.BlockID)
	next := qc.Height + 1
	if next%c.cfg.EpochLength == 0 {
		c.seed = EpochSeed(c.cfg.ChainTag, next/c.cfg.EpochLength, qc.BlockID)
		c.comms = c.vals.Assign(c.seed, c.cfg.Committees)
	}
	c.st = State{Height: next, LockedRound: NoRound, ValidRound: NoRound}
	c.resetHeight()
	c.enterRound(0, false)
	future := c.future
	c.future = nil
	for _, m := range future {
		_ = c.Step(m) // a bad message was already bad; nothing to report
	}
}

// EpochSeed returns the committee seed of an epoch: a hash of the chain
// tag, the epoch number and the last block of the previous epoch.
func EpochSeed(chainTag Hash, epoch uint64, lastBlock Hash) Hash {
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	return chain.Keccak256([]byte("bizra/consensus/epoch/v1"), chainTag[:], e[:], lastBlock[:])
}

// Tick advances time by one tick: the round timeout, the aggregators'
// deadlines, and the voters' fallback to the leader.
func (c *Core) Tick() {
	c.now++
	if c.now >= c.deadline {
		c.onTimeout()
	}
	c.tickAggregators()
	c.resend()
	for _, key := range sortedKeys(c.myVotes) {
		mv := c.myVotes[key]
		if mv == nil || key.round != c.st.Round || mv.fellBack || c.hasQC(key) || c.now < mv.at+c.cfg.FallbackTicks {
			continue
		}
		mv.fellBack = true
		// To the leader directly: past a missing or faulty aggregator,
		// or again when the vote went to the leader in the first place
		// and may have been lost (nothing else would resend it).
		if leader := c.vals.Proposer(c.st.Height, key.round); leader != c.cfg.Self {
			c.send([]uint32{leader}, &Message{Kind: KindVote, Vote: mv.v})
		}
	}
}

// resend is the leader of an undecided round sending its proposal and the
// round's prevote certificate again, after FallbackTicks and then at
// doubling intervals. Each is sent once, and a validator that missed the
// proposal cannot prevote, nor without both precommit: on a lossy network
// too few validators would have both for a quorum, in any round.
func (c *Core) resend() {
	if c.now < c.resendAt || c.Leader() != c.cfg.Self {
		return
	}
	c.resendGap *= 2
	c.resendAt = c.now + c.resendGap
	if p := c.proposals[c.st.Round]; p != nil && p.Proposer == c.cfg.Self {
		c.send(nil, &Message{Kind: KindProposal, Proposal: p})
	}
	if qc := c.prevoteQCs[c.st.Round]; qc != nil {
		c.send(nil, &Message{Kind: KindQC, QC: qc})
	}
}

func (c *Core) hasQC(key voteKey) bool {
	if key.t == Prevote {
		qc := c.prevoteQCs[key.round]
		return qc != nil && qc.BlockID == key.block
	}
	return false
}

// proposalOf returns a proposal of this height that carried block, from the
// lowest round, or nil.
func (c *Core) proposalOf(block Hash) *Proposal {
	var best *Proposal
	for _, p := range c.proposals {
		if p.BlockID == block && (best == nil || p.Round < best.Round) {
			best = p
		}
	}
	return best
}

// broadcastQC sends a certificate this validator formed to every other
// validator and handles it itself.
func (c *Core) broadcastQC(qc *QC) {
	c.send(nil, &Message{Kind: KindQC, QC: qc})
	switch qc.Type {
	case Prevote:
		c.addPrevoteQC(qc)
	case Precommit:
		c.onCommitQC(qc)
	}
}
