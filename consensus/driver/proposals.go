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
			if h == d.core.Height()+1 && len(d.held) < d.cfg.MaxHeldProposals {
				d.held = append(d.held, m)
			}
			// Checked and stepped once this validator has committed the
			// height before. Its proposer has committed that height:
			// fetch the block rather than wait for a vote or a timeout of
			// the next height to make the core fetch it.
			d.fetchBehind(m.Proposal.Proposer)
			return
		case h == d.core.Height():
			if err := d.checkProposal(m.Proposal); err != nil {
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
func (d *Driver) checkProposal(p *consensus.Proposal) error {
	if int(p.Proposer) >= len(d.cfg.Recipients) || d.vals.Proposer(p.Height, p.Round) != p.Proposer {
		return consensus.ErrWrongLeader
	}
	if _, ok := d.executed[p.BlockID]; ok {
		return nil
	}
	// An equivocating leader may send many blocks for one round; executing
	// each would let it spend this validator's time at will. Two are
	// enough to follow whichever gathers a certificate; more are refused
	// (the core fetches a certified block it lacks).
	if d.tried[p.Round] >= d.cfg.MaxProposalsPerRound {
		return fmt.Errorf("already executed %d proposals for round %d", d.tried[p.Round], p.Round)
	}
	d.tried[p.Round]++
	blk, err := d.chain.Decode(p.Payload)
	if err != nil {
		return err
	}
	h := blk.Header()
	switch {
	case blk.ID() != p.BlockID:
		return fmt.Errorf("payload hash %s is not the proposed block %s", blk.ID(), p.BlockID)
	case h.Height != p.Height:
		return fmt.Errorf("block height %d in a proposal for %d", h.Height, p.Height)
	case h.Round > p.Round || (p.ValidRound == consensus.NoRound && h.Round != p.Round):
		return fmt.Errorf("block of round %d proposed in round %d", h.Round, p.Round)
	case h.Proposer != d.cfg.Recipients[d.vals.Proposer(h.Height, h.Round)]:
		return fmt.Errorf("block fee recipient %s is not its round's leader", h.Proposer)
	case h.Certified:
		return errors.New("proposed block carries a certificate")
	}
	notAfter := uint64(d.clock.Now().Add(d.cfg.MaxClockDrift).UnixMilli())
	executed, err := d.chain.Execute(blk, notAfter)
	if err != nil {
		return err
	}
	d.executed[p.BlockID] = executed
	return nil
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
