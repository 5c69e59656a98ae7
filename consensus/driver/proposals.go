package driver

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bizra/node0/consensus"
)

// proposeAt is when this validator, asked for a proposal, makes it: one
// block interval after its parent in a height's first round, at once in a
// later round (the round already waited for a timeout).
func (d *Driver) proposeAt() (time.Time, bool) {
	if d.request == nil {
		return time.Time{}, false
	}
	if d.request.Round > 0 {
		return time.Time{}, true
	}
	return d.slot(), true
}

// slot is when the next height's block is due: one block interval after
// its parent.
func (d *Driver) slot() time.Time {
	_, parent := d.chain.Head()
	return time.UnixMilli(int64(parent)).Add(d.cfg.BlockInterval)
}

// propose builds a block and gives it to the core.
func (d *Driver) propose(now time.Time) {
	req := d.request
	d.request = nil
	if req.Height != d.core.Height() || req.Round != d.core.Round() {
		return // the round moved on while waiting
	}
	// In a height's first round the block takes its slot's time (the
	// parent's plus one interval) when it is less than one interval late:
	// a block that took longer to decide does not push every later one
	// back, and the chain keeps its rate. Later, or in later rounds, it
	// takes the time of the proposal.
	ts := now
	if slot := d.slot(); req.Round == 0 && !now.Before(slot) && now.Sub(slot) < d.cfg.BlockInterval {
		ts = slot
	}
	b := d.chain.Build(req.Round, uint64(ts.UnixMilli()))
	id := b.ID()
	d.executed[id] = b
	d.roundStart = d.clock.Now() // the certificate clock runs from the proposal
	if err := d.core.Propose(req.Height, req.Round, id, b.Payload()); err != nil {
		d.log.Warn("proposal refused by the core", "height", req.Height, "round", req.Round, "err", err)
	}
}

// onMessage checks a proposal's block where the core cannot, holds
// proposals for the next height, and steps the rest.
func (d *Driver) onMessage(m *consensus.Message) {
	if m.Kind == consensus.KindProposal {
		switch h := m.Proposal.Height; {
		case h > d.core.Height():
			d.onFutureProposal(m)
			return
		case h == d.core.Height():
			if err := d.checkProposal(m); err != nil {
				d.m.BadProposals.Inc()
				d.log.Debug("proposal rejected", "from", m.From, "height", h, "round", m.Proposal.Round, "err", err)
				return
			}
		}
	}
	if err := d.core.Step(m); err != nil && !errors.Is(err, consensus.ErrStale) {
		d.log.Debug("message rejected", "kind", m.Kind, "from", m.From, "err", err)
	}
}

// onFutureProposal holds a proposal for the next height, to be checked
// and stepped once this validator has committed the height before. A
// proposal takes one of the MaxHeldProposals slots only when it is the
// round leader's, signed, bound to its payload and carrying a valid proof
// of lock, once per (proposer, round, block) and for at most
// MaxProposalsPerRound blocks of a round: copies of a proposal, altered
// copies and blocks the leader never signed cannot crowd out the real
// one.
func (d *Driver) onFutureProposal(m *consensus.Message) {
	p := m.Proposal
	if _, err := d.bind(m); err != nil {
		d.m.BadProposals.Inc()
		d.log.Debug("future proposal rejected", "from", m.From, "height", p.Height, "round", p.Round, "err", err)
		return
	}
	// Its proposer has committed the height before: fetch that block
	// rather than wait for a vote or a timeout of the next height to make
	// the core fetch it.
	defer d.fetchBehind(p.Proposer)
	if p.Height != d.core.Height()+1 || len(d.held) >= d.cfg.MaxHeldProposals {
		return
	}
	blocks := 0
	for _, q := range d.held {
		if q.Proposal.Round != p.Round {
			continue
		}
		if q.Proposal.BlockID == p.BlockID {
			return // held already (one proposer per round: the leader)
		}
		blocks++
	}
	if blocks >= d.cfg.MaxProposalsPerRound {
		return
	}
	if err := d.checkPOL(p); err != nil {
		d.m.BadProposals.Inc()
		d.log.Debug("future proposal rejected", "from", m.From, "height", p.Height, "round", p.Round, "err", err)
		return
	}
	d.held = append(d.held, m)
}

// fetchBehind asks validator from for the committed block of the height
// being decided, at most once per first-round timeout for a height.
func (d *Driver) fetchBehind(from uint32) {
	h, now := d.core.Height(), d.clock.Now()
	if d.fetchedHeight == h && now.Sub(d.fetchedAt) < time.Duration(d.cfg.Core.TimeoutTicks)*d.cfg.Tick {
		return
	}
	d.fetchedHeight, d.fetchedAt = h, now
	d.net.RequestBlock(h, from)
}

// checkProposal executes a proposal's block on the chain: the core treats
// every proposal it is given as a valid block.
//
// Only a proposal that is the round leader's, signed, and bound to its
// payload (bind) reaches the budget: a copy with another payload, which
// anyone can make since the signature does not cover the payload, or a
// block the leader never signed costs a decode and a signature check, and
// never an execution. The budget counts distinct blocks: one that was
// executed or failed is not executed again (execution on the head is
// deterministic; a timestamp ahead of this validator's clock, the one
// failure that time cures, is refused before the budget).
func (d *Driver) checkProposal(m *consensus.Message) error {
	p := m.Proposal
	if int(p.Proposer) >= len(d.cfg.Recipients) || d.vals.Proposer(p.Height, p.Round) != p.Proposer {
		return consensus.ErrWrongLeader
	}
	if _, ok := d.executed[p.BlockID]; ok {
		return nil
	}
	if err, ok := d.failed[p.BlockID]; ok {
		return err
	}
	blk, err := d.bind(m)
	if err != nil {
		return err
	}
	// An equivocating leader may send many blocks for one round; executing
	// each would let it spend this validator's time at will. Two are
	// enough to follow whichever gathers a certificate; more are refused
	// (the core fetches a certified block it lacks).
	notAfter := uint64(d.clock.Now().Add(d.cfg.MaxClockDrift).UnixMilli())
	if ts := blk.Header().Timestamp; ts > notAfter {
		// The one check that time may pass: not counted, not remembered.
		return fmt.Errorf("block timestamp %d is %d ms past this validator's clock and drift", ts, ts-notAfter)
	}
	if d.tried[p.Round] >= d.cfg.MaxProposalsPerRound {
		return fmt.Errorf("already executed %d proposals for round %d", d.tried[p.Round], p.Round)
	}
	d.tried[p.Round]++
	executed, err := d.chain.Execute(blk, notAfter)
	if err != nil {
		d.failed[p.BlockID] = err
		return err
	}
	d.executed[p.BlockID] = executed
	return nil
}

// bind checks what a proposal's block must be before anything counts it:
// proposed by the round's leader and signed by it, a payload that decodes
// to a block whose ID is the proposal's BlockID (Chain.Decode binds the
// body to the header), and a header that fits the proposal's height,
// round and leader.
func (d *Driver) bind(m *consensus.Message) (Block, error) {
	p := m.Proposal
	if int(p.Proposer) >= len(d.cfg.Recipients) || d.vals.Proposer(p.Height, p.Round) != p.Proposer {
		return nil, consensus.ErrWrongLeader
	}
	if err := consensus.CheckSignature(d.cfg.Core.ChainTag, d.vals, d.cfg.Core.Crypto, m); err != nil {
		return nil, err
	}
	blk, err := d.chain.Decode(p.Payload)
	if err != nil {
		return nil, err
	}
	h := blk.Header()
	switch {
	case blk.ID() != p.BlockID:
		return nil, fmt.Errorf("payload hash %s is not the proposed block %s", blk.ID(), p.BlockID)
	case h.Height != p.Height:
		return nil, fmt.Errorf("block height %d in a proposal for %d", h.Height, p.Height)
	case h.Round > p.Round || (p.ValidRound == consensus.NoRound && h.Round != p.Round):
		return nil, fmt.Errorf("block of round %d proposed in round %d", h.Round, p.Round)
	case h.Proposer != d.cfg.Recipients[d.vals.Proposer(h.Height, h.Round)]:
		return nil, fmt.Errorf("block fee recipient %s is not its round's leader", h.Proposer)
	case h.Certified:
		return nil, errors.New("proposed block carries a certificate")
	}
	return blk, nil
}

// checkPOL checks a proposal's proof of lock as the core will once it
// steps the proposal: none without a valid round, else a prevote quorum
// certificate of that round for the proposal's block.
func (d *Driver) checkPOL(p *consensus.Proposal) error {
	if err := consensus.POLFits(p); err != nil || p.POL == nil {
		return err
	}
	return consensus.VerifyQC(d.cfg.Core.ChainTag, d.vals, d.cfg.Core.Crypto, p.POL)
}

// onBlock takes a committed block fetched from another validator.
func (d *Driver) onBlock(blk Block, qc *consensus.QC) {
	if qc == nil || qc.Height != d.core.Height() {
		return
	}
	if blk.ID() != qc.BlockID || blk.Header().Height != qc.Height {
		d.log.Debug("fetched block without a matching certificate", "height", qc.Height)
		return
	}
	if _, ok := d.executed[qc.BlockID]; !ok {
		// A certified block executes on any honest chain: no timestamp
		// bound, the quorum has accepted it. The core checks the
		// certificate before it commits the block.
		executed, err := d.chain.Execute(blk, math.MaxUint64)
		if err != nil {
			d.log.Warn("fetched block does not execute", "height", qc.Height, "err", err)
			return
		}
		d.executed[qc.BlockID] = executed
	}
	if err := d.core.StepCommitted(blk.Payload(), qc); err != nil {
		d.log.Debug("fetched block refused", "height", qc.Height, "err", err)
	}
}
