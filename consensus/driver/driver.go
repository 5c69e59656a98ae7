package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/bizra/node0/consensus"
)

// Driver drives one validator's consensus core. Its methods are called from
// one goroutine; Status and Participation may be called from any.
type Driver struct {
	cfg   Config
	chain Chain
	store Store
	net   Transport
	clock Clock
	log   *slog.Logger
	m     *Metrics
	vals  *consensus.ValidatorSet
	core  *consensus.Core

	// Loop state: only the driving goroutine touches it.
	executed    map[consensus.Hash]Block // executed blocks at the current height
	tried       map[uint64]int           // distinct bound blocks executed per round of this height
	failed      map[consensus.Hash]error // bound blocks of this height that did not execute
	held        []*consensus.Message     // proposals for the next height
	replay      []*consensus.Message     // held proposals to step once the current Ready is acknowledged
	request     *consensus.ProposalRequest
	written     map[consensus.Hash]bool // payloads stored for this height
	stateHeight uint64                  // height of the last persisted state
	roundStart  time.Time
	lastRound   [2]uint64 // height, round of roundStart
	nextTick    time.Time
	// fetchedHeight and fetchedAt are the last fetch asked because a
	// proposal showed this validator behind.
	fetchedHeight uint64
	fetchedAt     time.Time
	published     published // what the last snapshot published
	err           error     // sticky: the driver has failed

	mu     sync.Mutex // guards status and part
	status Status
	part   *participation
}

// New builds a driver and its core, resuming from the state persisted in
// store: the height after the chain's head, the epoch's committees from
// the chain, and the lock and signed records of that height if the store
// holds them.
func New(cfg Config, c Chain, s Store, t Transport, clock Clock) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	vals := cfg.Core.Validators
	d := &Driver{
		cfg: cfg, chain: c, store: s, net: t, clock: clock, log: cfg.Logger.With("module", "consensus"),
		m: cfg.Metrics, vals: vals,
		executed: map[consensus.Hash]Block{}, tried: map[uint64]int{}, failed: map[consensus.Hash]error{}, written: map[consensus.Hash]bool{},
	}
	if vals != nil {
		d.part = newParticipation(vals.Len(), participationWindow)
	}
	next, _ := c.Head()
	start := consensus.Start{Height: next}
	var err error
	if start.EpochSeed, err = EpochSeed(c, cfg.Core.ChainTag, cfg.Core.EpochLength, next); err != nil {
		return nil, err
	}
	if start.State, err = d.loadState(next); err != nil {
		return nil, err
	}
	if d.core, err = consensus.NewCore(cfg.Core, start); err != nil {
		return nil, err
	}
	if next > 1 {
		// The head's certificate, for the status until the next commit.
		if _, cert, err := c.Committed(next - 1); err == nil && len(cert) > 0 {
			if qc, err := consensus.DecodeQC(cert); err == nil {
				d.status.LastCommit = qc
			}
		}
	}
	if st := start.State; st != nil {
		d.log.Info("resuming consensus from persisted state", "height", next, "round", st.Round, "locked_round", roundOf(st.LockedRound))
	}
	d.snapshot()
	return d, nil
}

// EpochSeed returns the committee seed of the epoch holding height: that
// of epoch 0, or one derived from the last block of the epoch before,
// which the chain has committed. Whoever follows committees outside a
// driver (a node's vote subnets) derives them the same way.
func EpochSeed(c Chain, chainTag consensus.Hash, epochLength, height uint64) (consensus.Hash, error) {
	if epochLength == 0 {
		return consensus.Hash{}, errors.New("driver: epoch length is zero")
	}
	epoch := height / epochLength
	if epoch == 0 {
		return consensus.EpochSeed(chainTag, 0, consensus.Hash{}), nil
	}
	id, _, err := c.Committed(epoch*epochLength - 1)
	if err != nil {
		return consensus.Hash{}, fmt.Errorf("driver: epoch seed: %w", err)
	}
	return consensus.EpochSeed(chainTag, epoch, id), nil
}

// roundOf shows NoRound as -1 in logs.
func roundOf(r uint64) int64 {
	if r == consensus.NoRound {
		return -1
	}
	return int64(r)
}

// Start starts the driver's clock and carries out what the core asks
// first (a restarted validator sends again what it signed).
func (d *Driver) Start() error {
	now := d.clock.Now()
	d.nextTick = now.Add(d.cfg.Tick)
	d.roundStart = now
	return d.drain()
}

// Err returns the failure that stopped the driver, if any.
func (d *Driver) Err() error { return d.err }

// Height returns the height being decided.
func (d *Driver) Height() uint64 { return d.core.Height() }

// Round returns the current round.
func (d *Driver) Round() uint64 { return d.core.Round() }

// Stats returns the core's counters.
func (d *Driver) Stats() consensus.Stats { return d.core.Stats() }

// Step hands the driver a message from another validator.
func (d *Driver) Step(m *consensus.Message) error {
	if d.err != nil {
		return d.err
	}
	d.onMessage(m)
	return d.drain()
}

// StepBlock hands the driver a committed block fetched from another
// validator, decoded by its Chain, with its precommit certificate. A
// block for another height than the one being decided is ignored.
func (d *Driver) StepBlock(b Block, qc *consensus.QC) error {
	if d.err != nil {
		return d.err
	}
	d.onBlock(b, qc)
	return d.drain()
}

// Tick tells the driver that time has passed: it ticks the core once for
// every Config.Tick since the last tick (at most MaxCatchUpTicks at once),
// proposes when this validator's proposal is due, and carries out what the
// core asks.
func (d *Driver) Tick() error {
	if d.err != nil {
		return d.err
	}
	now := d.clock.Now()
	for n := 0; !now.Before(d.nextTick); n++ {
		if n < d.cfg.MaxCatchUpTicks {
			d.core.Tick()
		}
		d.nextTick = d.nextTick.Add(d.cfg.Tick)
		if n >= d.cfg.MaxCatchUpTicks {
			d.nextTick = now.Add(d.cfg.Tick)
		}
	}
	if at, ok := d.proposeAt(); ok && !now.Before(at) {
		d.propose(now)
	}
	return d.drain()
}

// Wake returns when Tick should next be called: the next tick, or this
// validator's proposal if it is due earlier.
func (d *Driver) Wake() time.Time {
	wake := d.nextTick
	if at, ok := d.proposeAt(); ok && at.Before(wake) {
		wake = at
	}
	return wake
}

// fail records the error that stops the driver.
func (d *Driver) fail(err error) error {
	d.err = err
	d.log.Error("consensus driver stopped", "err", err)
	return err
}

// drain carries out what the core asks until it asks nothing, in the order
// that keeps a validator safe across crashes: commits first (durable), then
// the state that must be durable before anything is sent, then the
// messages, then the proposal request and the fetches; then Advance, and
// only then the proposals held for the height reached (what the core
// outputs between Ready and Advance would be lost with this Ready).
func (d *Driver) drain() error {
	for range 1000 {
		rd := d.core.Ready()
		if rd.IsEmpty() {
			d.snapshot()
			return nil
		}
		if err := d.commitAll(rd.Commits); err != nil {
			return d.fail(err)
		}
		if err := d.persist(rd.State); err != nil {
			return d.fail(err)
		}
		d.send(rd.Messages)
		if rd.ProposalRequest != nil {
			d.request = rd.ProposalRequest
		}
		for _, f := range rd.Fetches {
			d.net.RequestBlock(f.Height, f.From)
		}
		d.core.Advance()
		d.noteRound()
		d.stepHeld()
	}
	return d.fail(errors.New("driver: consensus core did not settle after 1000 steps"))
}

func (d *Driver) commitAll(cs []consensus.Commit) error {
	for _, c := range cs {
		if err := d.commit(c); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) send(envs []consensus.Envelope) {
	for _, env := range envs {
		d.observeSend(env)
		d.net.Send(env.To, env.Msg)
	}
}

// stepHeld steps the proposals held for the height just reached.
func (d *Driver) stepHeld() {
	replay := d.replay
	d.replay = nil
	for _, m := range replay {
		d.onMessage(m)
	}
}

// observeSend times a certificate this validator formed as the round's
// leader, from its proposal or the round's start.
func (d *Driver) observeSend(env consensus.Envelope) {
	if env.Msg.Kind == consensus.KindQC && len(env.To) == 0 && env.Msg.QC.Round == d.core.Round() {
		d.m.CertTime.Observe(d.clock.Now().Sub(d.roundStart).Seconds())
	}
}

// noteRound starts the certificate clock at a new round; a proposal this
// validator builds restarts it.
func (d *Driver) noteRound() {
	if hr := [2]uint64{d.core.Height(), d.core.Round()}; hr != d.lastRound {
		d.lastRound = hr
		d.roundStart = d.clock.Now()
	}
}

// commit applies a decided block with its certificate; held proposals for
// the next height are stepped again once the core's Ready is acknowledged.
func (d *Driver) commit(c consensus.Commit) error {
	b := d.executed[c.BlockID]
	if b == nil {
		blk, err := d.chain.Decode(c.Payload)
		if err == nil {
			b, err = d.chain.Execute(blk, math.MaxUint64)
		}
		if err != nil {
			// A quorum certified a block this node cannot execute: its
			// state has diverged from the quorum's. Stop rather than vote
			// on a chain it cannot follow.
			return fmt.Errorf("driver: certified block %d (%s) does not apply: %w", c.Height, c.BlockID, err)
		}
	}
	if b.ID() != c.BlockID || b.Header().Height != c.Height {
		return fmt.Errorf("driver: committed block %d is not the certified %s", c.Height, c.BlockID)
	}
	start := d.clock.Now()
	if err := d.chain.Commit(b, c.QC); err != nil {
		return fmt.Errorf("driver: commit block %d: %w", c.Height, err)
	}
	d.mu.Lock()
	d.part.add(c.QC.Signers)
	d.status.LastCommit = c.QC
	d.mu.Unlock()
	d.m.observeCommit(c.QC, d.vals)
	d.log.Info("committed block", "height", c.Height, "round", c.QC.Round, "hash", c.BlockID,
		"signers", c.QC.Signers.Count(), "commit_ms", d.clock.Now().Sub(start).Milliseconds())
	clear(d.executed)
	clear(d.tried)
	clear(d.failed)
	// What the core outputs between Ready and Advance would be lost with
	// this Ready: the held proposals wait for Advance.
	d.replay = append(d.replay, d.held...)
	d.held = nil
	return nil
}
