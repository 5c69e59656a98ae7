package consensus

import (
	"errors"
	"maps"
	"slices"
)

// onTimeout broadcasts this validator's timeout for the round, and again
// every timeout while the round lasts, so that a lossy network still
// gathers a certificate.
func (c *Core) onTimeout() {
	r := c.st.Round
	c.deadline = c.now + c.timeout(r)
	c.timedOut = true
	c.stats.Timeouts++
	t := &Timeout{Height: c.st.Height, Round: r, Validator: c.cfg.Self}
	t.Sig = c.cfg.Crypto.Sign(TimeoutSignBytes(c.cfg.ChainTag, t.Height, r))
	c.log.Debug("timeout", "height", t.Height, "round", r)
	// The next leader needs the highest prevote certificate to re-propose
	// what validators may be locked on. It goes before the timeout, which
	// may be the one that completes the next leader's timeout certificate
	// and makes it propose at once: sent after, it would arrive too late.
	// The block goes with it: a leader that missed the proposal cannot
	// re-propose a block it does not have, and the validators locked on it
	// would refuse anything else for as long as that leader leads.
	if qc := c.highestPOL(r + 1); qc != nil {
		if next := c.vals.Proposer(c.st.Height, r+1); next != c.cfg.Self {
			if p := c.proposalOf(qc.BlockID); p != nil {
				c.send([]uint32{next}, &Message{Kind: KindProposal, Proposal: p})
			}
			c.send([]uint32{next}, &Message{Kind: KindQC, QC: qc})
		}
	}
	// Validators still in the round certified last no longer have their
	// timeouts counted by those that moved on; if the next leader is one
	// of them, nobody forwards them the certificate. It goes with every
	// timeout.
	if tc := c.certified(r); tc != nil {
		c.send(nil, &Message{Kind: KindTC, TC: tc})
	}
	c.send(nil, &Message{Kind: KindTimeout, Timeout: t})
	c.addTimeout(t, true)
}

// certified returns the highest timeout certificate of a round before r at
// this height: received, or formed here from the timeouts of a round.
func (c *Core) certified(r uint64) *TC {
	best := c.tc
	if best != nil && best.Round >= r {
		best = nil
	}
	for q, ts := range c.timeouts {
		if ts.tc != nil && q < r && (best == nil || q > best.Round) {
			best = ts.tc
		}
	}
	if best != nil {
		c.tc = best
	}
	return best
}

// timeoutSet gathers the timeouts of one round.
type timeoutSet struct {
	sigs  map[uint32][]byte
	stake uint64
	tc    *TC // the certificate formed from them, once they reach a quorum
}

func (c *Core) stepTimeout(m *Message) error {
	t := m.Timeout
	if m.From != t.Validator || int(t.Validator) >= c.vals.Len() {
		return ErrNotValidator
	}
	if t.Round < c.st.Round || t.Round > c.st.Round+maxRoundsAhead {
		return nil
	}
	if ts := c.timeouts[t.Round]; ts != nil {
		if _, ok := ts.sigs[t.Validator]; ok {
			return nil
		}
	}
	if err := checkSingle(c.vals, c.cfg.Crypto, t.Validator, TimeoutSignBytes(c.cfg.ChainTag, t.Height, t.Round), t.Sig); err != nil {
		c.stats.BadSignatures++
		return err
	}
	c.addTimeout(t, false)
	return nil
}

// addTimeout counts a checked timeout. More than a third of the stake
// timing out a round this validator has not given up on means an honest
// validator has: join it (Bracha's amplification). More than two thirds
// form a certificate that moves every validator to the next round.
func (c *Core) addTimeout(t *Timeout, own bool) {
	ts := c.timeouts[t.Round]
	if ts == nil {
		ts = &timeoutSet{sigs: map[uint32][]byte{}}
		c.timeouts[t.Round] = ts
	}
	if _, ok := ts.sigs[t.Validator]; ok {
		return
	}
	ts.sigs[t.Validator] = t.Sig
	ts.stake += c.vals.Get(t.Validator).Stake
	if !own && t.Round >= c.st.Round && c.vals.IsOneThird(ts.stake) {
		if _, mine := ts.sigs[c.cfg.Self]; !mine {
			if t.Round > c.st.Round {
				c.enterRound(t.Round, false)
			}
			c.onTimeout()
			return // onTimeout added our own and re-entered here
		}
	}
	if ts.tc != nil || !c.vals.IsQuorum(ts.stake) {
		return
	}
	ids := slices.Sorted(maps.Keys(ts.sigs))
	bm := NewBitmap(c.vals.Len())
	sigs := make([][]byte, len(ids))
	for i, id := range ids {
		bm.Set(id)
		sigs[i] = ts.sigs[id]
	}
	sig, err := c.cfg.Crypto.Aggregate(sigs)
	if err != nil {
		return
	}
	ts.tc = &TC{Height: c.st.Height, Round: t.Round, Signers: bm, Sig: sig}
	c.onTC(ts.tc)
}

func (c *Core) stepTC(tc *TC) error {
	if tc.Round < c.st.Round {
		return nil
	}
	if err := VerifyTC(c.cfg.ChainTag, c.vals, c.cfg.Crypto, tc); err != nil {
		if errors.Is(err, ErrBadSignature) {
			c.stats.BadSignatures++
		}
		return err
	}
	c.onTC(tc)
	return nil
}

// onTC moves to the round after a certified timeout. The new round's leader
// sends the certificate on, so that validators that missed the timeouts
// follow.
func (c *Core) onTC(tc *TC) {
	if tc.Round < c.st.Round {
		return
	}
	c.stats.TimeoutCerts++
	c.enterRound(tc.Round+1, false)
	if c.Leader() == c.cfg.Self {
		c.send(nil, &Message{Kind: KindTC, TC: tc})
	}
}
