package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Tuning of the consensus driver.
const (
	// consensusTick is the core's unit of time.
	consensusTick = 10 * time.Millisecond
	// maxCatchUpTicks bounds the ticks given at once after the loop was
	// busy (a long block execution): time passed, but not without limit.
	maxCatchUpTicks = 1000
	// maxClockDrift is how far in the future a proposal's timestamp may be
	// against this node's clock.
	maxClockDrift = 2 * time.Second
	// maxHeldProposals bounds proposals kept for the next height.
	maxHeldProposals = 64
	// maxProposalsPerRound bounds the proposals executed for one round.
	maxProposalsPerRound = 2
)

// Keys of the engine's records in the store's auxiliary table.
var (
	auxConsensusState = []byte("consensus/state")
	auxPayloadPrefix  = []byte("consensus/payload/")
)

// payloadKey names the stored payload of a block the engine is locked on
// or holds as valid: prefix, height u64, block hash.
func payloadKey(height uint64, block chain.Hash) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), auxPayloadPrefix...), height)
	return append(k, block[:]...)
}

// bftEngine drives a consensus.Core: it feeds it messages from the
// transport, ticks and blocks; checks proposals by executing them on the
// chain; builds this validator's proposals from the mempool; and carries
// out what the core asks, in the order that keeps a validator safe across
// crashes: commit blocks, persist the core's state, then send.
type bftEngine struct {
	chain    *chain.Chain
	store    *chain.Store
	txs      TxSource
	senders  chain.SenderLookup
	vals     *consensus.ValidatorSet
	addrs    []chain.Address
	self     uint32
	net      Transport
	clock    Clock
	log      *slog.Logger
	metrics  *ConsensusMetrics
	interval time.Duration
	commitTo []CommitListener
	core     *consensus.Core

	// Loop state: only the loop goroutine touches it.
	executed    map[chain.Hash]*chain.Pending // valid blocks at the current height
	tried       map[uint64]int                // proposals executed per round of this height
	held        []*consensus.Message          // proposals for later heights
	replay      []*consensus.Message          // held proposals to step after the current Ready
	request     *consensus.ProposalRequest
	written     map[chain.Hash]bool // payloads stored for this height
	stateHeight uint64              // height of the last persisted state
	roundStart  time.Time
	lastRound   [2]uint64 // height, round of roundStart
	nextTick    time.Time
	pendingFail error

	mu     sync.Mutex // guards status and part
	status ConsensusStatus
	part   *participation

	cancel context.CancelFunc
	done   chan struct{}
	failed chan struct{}
	err    error
}

// ConsensusStatus is a snapshot of the engine for JSON-RPC and logs.
type ConsensusStatus struct {
	Height      uint64 // height being decided
	Round       uint64
	Step        string
	Leader      uint32
	LockedRound uint64 // consensus.NoRound when not locked
	LastCommit  *consensus.QC
	Committees  *consensus.Committees // of the current epoch
	Stats       consensus.Stats
}

type engineParams struct {
	chain     *chain.Chain
	txs       TxSource
	senders   chain.SenderLookup
	genesis   *chain.Genesis
	crypto    consensus.Crypto
	self      uint32
	net       Transport
	clock     Clock
	log       *slog.Logger
	metrics   *ConsensusMetrics
	listeners []CommitListener
}

// newBFTEngine builds the engine and its core, resuming from the safety
// state persisted in the store.
func newBFTEngine(p engineParams) (*bftEngine, error) {
	g := p.genesis
	vals, err := validatorSet(g)
	if err != nil {
		return nil, err
	}
	e := &bftEngine{
		chain: p.chain, store: p.chain.Store(), txs: p.txs, senders: p.senders, vals: vals,
		self: p.self, net: p.net, clock: p.clock, log: p.log.With("module", "consensus"),
		metrics: p.metrics, interval: g.BlockTime.Duration, commitTo: p.listeners,
		executed: map[chain.Hash]*chain.Pending{}, tried: map[uint64]int{}, written: map[chain.Hash]bool{},
		failed: make(chan struct{}), part: newParticipation(vals.Len(), participationWindow),
	}
	for _, v := range g.Validators {
		e.addrs = append(e.addrs, v.Address)
	}
	head, _ := p.chain.Head()
	start := consensus.Start{Height: head.Height + 1}
	if start.EpochSeed, err = e.epochSeed(start.Height, g); err != nil {
		return nil, err
	}
	if start.State, err = e.loadState(start.Height); err != nil {
		return nil, err
	}
	cfg := consensus.Config{
		ChainTag: g.Hash(), Validators: vals, Self: p.self, Crypto: p.crypto,
		Committees: g.Consensus.Committees, EpochLength: g.Consensus.EpochLength,
		Logger: p.log,
	}
	cfg.DefaultTimeouts(uint64(consensusTick/time.Millisecond), uint64(g.BlockTime.Milliseconds()))
	if e.core, err = consensus.NewCore(cfg, start); err != nil {
		return nil, err
	}
	if head.Height > 0 {
		// The head's certificate, for status until the next commit.
		if blk, err := e.store.Block(head.Height); err == nil {
			if qc, err := consensus.DecodeQC(blk.Cert); err == nil {
				e.status.LastCommit = qc
			}
		}
	}
	if start.State != nil {
		e.log.Info("resuming consensus from persisted state", "height", start.Height, "round", start.State.Round, "locked_round", round(start.State.LockedRound))
	}
	e.snapshot()
	return e, nil
}

// validatorSet builds the consensus validator set from genesis, in genesis
// order: a validator's index there is its index in votes and bitmaps.
func validatorSet(g *chain.Genesis) (*consensus.ValidatorSet, error) {
	vals := make([]consensus.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = consensus.Validator{Name: v.Name, PubKey: v.PubKey, Stake: v.Stake}
	}
	return consensus.NewValidatorSet(vals)
}

// epochSeed returns the committee seed of the epoch holding height: from
// the last block of the epoch before, which is committed.
func (e *bftEngine) epochSeed(height uint64, g *chain.Genesis) (chain.Hash, error) {
	epoch := height / g.Consensus.EpochLength
	if epoch == 0 {
		return consensus.EpochSeed(g.Hash(), 0, chain.Hash{}), nil
	}
	h, err := e.store.Header(epoch*g.Consensus.EpochLength - 1)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("node: epoch seed: %w", err)
	}
	return consensus.EpochSeed(g.Hash(), epoch, h.Hash()), nil
}

// loadState reads the persisted safety state. A state for an earlier height
// is stale (that height committed after it was written) and ignored; one
// for a later height than the chain's next means the store lost committed
// blocks, and signing anything could conflict with what this validator
// signed before: refuse to start.
func (e *bftEngine) loadState(next uint64) (*consensus.State, error) {
	raw, err := e.store.Aux(auxConsensusState)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := consensus.DecodeState(raw)
	if err != nil {
		return nil, fmt.Errorf("node: persisted consensus state: %w", err)
	}
	e.stateHeight = st.Height
	switch {
	case st.Height < next:
		return nil, nil
	case st.Height > next:
		return nil, fmt.Errorf("%w: consensus state is at height %d but the chain ends at %d; this validator may have signed at heights the store has lost, refusing to sign again", ErrUnsafeState, st.Height, next-1)
	}
	load := func(r uint64, block chain.Hash) ([]byte, error) {
		if r == consensus.NoRound {
			return nil, nil
		}
		p, err := e.store.Aux(payloadKey(st.Height, block))
		if err != nil {
			return nil, fmt.Errorf("%w: payload of block %s at height %d: %v", ErrUnsafeState, block, st.Height, err)
		}
		e.written[block] = true
		return p, nil
	}
	if st.LockedPayload, err = load(st.LockedRound, st.LockedBlock); err != nil {
		return nil, err
	}
	if st.ValidPayload, err = load(st.ValidRound, st.ValidBlock); err != nil {
		return nil, err
	}
	return st, nil
}

func round(r uint64) int64 {
	if r == consensus.NoRound {
		return -1
	}
	return int64(r)
}

func (e *bftEngine) Name() string            { return "consensus" }
func (e *bftEngine) Failed() <-chan struct{} { return e.failed }

func (e *bftEngine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *bftEngine) Status() EngineStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return EngineStatus{Height: e.status.Height - 1, Round: e.status.Round}
}

// Consensus returns a snapshot of the engine.
func (e *bftEngine) Consensus() ConsensusStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

func (e *bftEngine) Start(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	e.nextTick = e.clock.Now().Add(consensusTick)
	e.roundStart = e.clock.Now()
	go e.loop(ctx)
	return nil
}

// Stop ends the loop after the step in progress: a block being committed is
// committed whole or not at all.
func (e *bftEngine) Stop() error {
	e.cancel()
	<-e.done
	return e.net.Close()
}

func (e *bftEngine) fail(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
	e.log.Error("consensus engine stopped", "err", err)
	close(e.failed)
}

func (e *bftEngine) loop(ctx context.Context) {
	defer close(e.done)
	if err := e.drain(); err != nil {
		e.fail(err)
		return
	}
	for {
		now := e.clock.Now()
		wake := e.nextTick
		if at, ok := e.proposeAt(); ok && at.Before(wake) {
			wake = at
		}
		select {
		case <-ctx.Done():
			return
		case m := <-e.net.Messages():
			e.onMessage(m)
		case blk := <-e.net.Blocks():
			e.onBlock(blk)
		case <-e.clock.After(wake.Sub(now)):
		}
		now = e.clock.Now()
		for n := 0; !now.Before(e.nextTick); n++ {
			if n < maxCatchUpTicks {
				e.core.Tick()
			}
			e.nextTick = e.nextTick.Add(consensusTick)
			if n >= maxCatchUpTicks {
				e.nextTick = now.Add(consensusTick)
			}
		}
		if at, ok := e.proposeAt(); ok && !now.Before(at) {
			e.propose(now)
		}
		if err := e.drain(); err != nil {
			e.fail(err)
			return
		}
	}
}

// proposeAt is when this validator, asked for a proposal, makes it: one
// block interval after its parent in a height's first round, at once in a
// later round (the round already waited for a timeout).
func (e *bftEngine) proposeAt() (time.Time, bool) {
	if e.request == nil {
		return time.Time{}, false
	}
	if e.request.Round > 0 {
		return time.Time{}, true
	}
	head, _ := e.chain.Head()
	return time.UnixMilli(int64(head.Timestamp)).Add(e.interval), true
}

// propose builds a block from the mempool and gives it to the core.
func (e *bftEngine) propose(now time.Time) {
	req := e.request
	e.request = nil
	if req.Height != e.core.Height() || req.Round != e.core.Round() {
		return // the round moved on while waiting
	}
	// In a height's first round the block takes its slot's time (the
	// parent's plus one interval) when it is less than one interval late:
	// a block that took longer to decide does not push every later one
	// back, and the chain keeps its rate. Later, or later rounds, take
	// the time of the proposal. The builder raises a timestamp that is
	// not after the parent's.
	ts := now
	if req.Round == 0 {
		head, _ := e.chain.Head()
		if slot := time.UnixMilli(int64(head.Timestamp)).Add(e.interval); !now.Before(slot) && now.Sub(slot) < e.interval {
			ts = slot
		}
	}
	b := e.chain.NewBuilder(chain.BuildParams{Proposer: e.addrs[e.self], Round: req.Round, Timestamp: uint64(ts.UnixMilli())})
	e.txs.Fill(b)
	p := b.Finish()
	hash := p.Block.Hash()
	e.executed[hash] = p
	e.roundStart = e.clock.Now() // the certificate clock runs from the proposal
	if err := e.core.Propose(req.Height, req.Round, hash, p.Block.Encode()); err != nil {
		e.log.Warn("proposal refused by the core", "height", req.Height, "round", req.Round, "err", err)
	}
}

// onMessage checks a message's payload where the core cannot, then steps it.
func (e *bftEngine) onMessage(m *consensus.Message) {
	if m.Kind == consensus.KindProposal {
		switch h := m.Proposal.Height; {
		case h > e.core.Height():
			if h == e.core.Height()+1 && len(e.held) < maxHeldProposals {
				e.held = append(e.held, m)
			}
			// Checked and stepped once this validator has committed the
			// height before. Votes of that height reach the core, which
			// fetches the block it missed.
			return
		case h == e.core.Height():
			if err := e.checkProposal(m); err != nil {
				e.metrics.BadProposals.Inc()
				e.log.Debug("proposal rejected", "from", m.From, "height", h, "round", m.Proposal.Round, "err", err)
				return
			}
		}
	}
	if err := e.core.Step(m); err != nil && !errors.Is(err, consensus.ErrStale) {
		e.log.Debug("message rejected", "kind", m.Kind, "from", m.From, "err", err)
	}
}

// checkProposal executes a proposal's block on the chain: the core treats
// every proposal it is given as a valid block.
func (e *bftEngine) checkProposal(m *consensus.Message) error {
	p := m.Proposal
	if int(p.Proposer) >= len(e.addrs) || e.vals.Proposer(p.Height, p.Round) != p.Proposer {
		return consensus.ErrWrongLeader
	}
	if _, ok := e.executed[p.BlockID]; ok {
		return nil
	}
	// An equivocating leader may send many blocks for one round; executing
	// each would let it spend this node's time at will. Two are enough to
	// follow whichever gathers a certificate; a third is refused (the core
	// fetches a certified block it lacks).
	if e.tried[p.Round] >= maxProposalsPerRound {
		return fmt.Errorf("already executed %d proposals for round %d", e.tried[p.Round], p.Round)
	}
	e.tried[p.Round]++
	blk, err := chain.DecodeBlock(p.Payload)
	if err != nil {
		return err
	}
	h := &blk.Header
	switch {
	case blk.Hash() != p.BlockID:
		return fmt.Errorf("payload hash %s is not the proposed block %s", blk.Hash(), p.BlockID)
	case h.Height != p.Height:
		return fmt.Errorf("block height %d in a proposal for %d", h.Height, p.Height)
	case h.Round > p.Round || (p.ValidRound == consensus.NoRound && h.Round != p.Round):
		return fmt.Errorf("block of round %d proposed in round %d", h.Round, p.Round)
	case h.Proposer != e.addrs[e.vals.Proposer(h.Height, h.Round)]:
		return fmt.Errorf("block fee recipient %s is not its round's leader", h.Proposer)
	case len(blk.Cert) != 0:
		return errors.New("proposed block carries a certificate")
	}
	notAfter := uint64(e.clock.Now().Add(maxClockDrift).UnixMilli())
	pending, err := e.chain.Execute(blk, e.senders, notAfter)
	if err != nil {
		return err
	}
	e.executed[p.BlockID] = pending
	return nil
}

// onBlock takes a committed block fetched from another validator.
func (e *bftEngine) onBlock(blk *chain.Block) {
	if blk.Header.Height != e.core.Height() {
		return
	}
	qc, err := consensus.DecodeQC(blk.Cert)
	if err != nil || qc.BlockID != blk.Hash() || qc.Height != blk.Header.Height {
		e.log.Debug("fetched block without a matching certificate", "height", blk.Header.Height)
		return
	}
	cert := blk.Cert
	blk.Cert = nil
	payload := blk.Encode()
	if _, ok := e.executed[qc.BlockID]; !ok {
		// A certified block executes on any honest chain: no timestamp
		// bound, the quorum has accepted it.
		p, err := e.chain.Execute(blk, e.senders, math.MaxUint64)
		if err != nil {
			e.log.Warn("fetched block does not execute", "height", blk.Header.Height, "err", err)
			return
		}
		e.executed[qc.BlockID] = p
	}
	if err := e.core.StepCommitted(payload, qc); err != nil {
		e.log.Debug("fetched block refused", "height", blk.Header.Height, "err", err)
	}
	blk.Cert = cert
}

// drain carries out what the core asks until it asks nothing: commits
// first (durable), then the state that must be durable before anything is
// sent, then the messages, then proposals and fetches.
func (e *bftEngine) drain() error {
	for range 1000 {
		rd := e.core.Ready()
		if rd.IsEmpty() {
			e.snapshot()
			return nil
		}
		for _, c := range rd.Commits {
			if err := e.commit(c); err != nil {
				return err
			}
		}
		if rd.State != nil {
			if err := e.persist(rd.State); err != nil {
				return err
			}
		}
		for _, env := range rd.Messages {
			if env.Msg.Kind == consensus.KindQC && len(env.To) == 0 && env.Msg.QC.Round == e.core.Round() {
				// A certificate this validator formed as leader.
				e.metrics.CertTime.Observe(e.clock.Now().Sub(e.roundStart).Seconds())
			}
			e.net.Send(env.To, env.Msg)
		}
		if rd.ProposalRequest != nil {
			e.request = rd.ProposalRequest
		}
		for _, f := range rd.Fetches {
			e.net.RequestBlock(f.Height, f.From)
		}
		e.core.Advance()
		e.noteRound()
		replay := e.replay
		e.replay = nil
		for _, m := range replay {
			e.onMessage(m)
		}
	}
	return errors.New("node: consensus core did not settle after 1000 steps")
}

// noteRound starts the certificate clock at a new round; a proposal this
// validator builds restarts it.
func (e *bftEngine) noteRound() {
	if hr := [2]uint64{e.core.Height(), e.core.Round()}; hr != e.lastRound {
		e.lastRound = hr
		e.roundStart = e.clock.Now()
	}
}

// commit writes a decided block with its certificate and tells the
// listeners; held proposals for the next height are stepped again.
func (e *bftEngine) commit(c consensus.Commit) error {
	p := e.executed[c.BlockID]
	if p == nil {
		blk, err := chain.DecodeBlock(c.Payload)
		if err == nil {
			p, err = e.chain.Execute(blk, e.senders, math.MaxUint64)
		}
		if err != nil {
			// A quorum certified a block this node cannot execute: its
			// state has diverged from the quorum's. Stop rather than vote
			// on a chain it cannot follow.
			return fmt.Errorf("node: certified block %d (%s) does not apply: %w", c.Height, c.BlockID, err)
		}
	}
	if p.Block.Hash() != c.BlockID || p.Block.Header.Height != c.Height {
		return fmt.Errorf("node: committed block %d is not the certified %s", c.Height, c.BlockID)
	}
	p.Block.Cert = consensus.EncodeQC(c.QC)
	start := e.clock.Now()
	if err := e.chain.Commit(p); err != nil {
		return fmt.Errorf("node: commit block %d: %w", c.Height, err)
	}
	for _, l := range e.commitTo {
		l(p)
	}
	e.mu.Lock()
	e.part.add(c.QC.Signers)
	e.status.LastCommit = c.QC
	e.mu.Unlock()
	e.metrics.observeCommit(c.QC, e.vals)
	e.log.Info("committed block", "height", c.Height, "round", c.QC.Round, "txs", len(p.Block.Txs),
		"hash", c.BlockID, "signers", c.QC.Signers.Count(), "commit_ms", e.clock.Now().Sub(start).Milliseconds())
	clear(e.executed)
	clear(e.tried)
	// Proposals held for this next height are stepped again, but only
	// after the core's current Ready is acknowledged: what the core
	// outputs between Ready and Advance would be lost with it.
	e.replay = append(e.replay, e.held...)
	e.held = nil
	return nil
}

// persist writes the core's state, with the payloads of the blocks it is
// locked on or holds as valid, in one synced batch; payloads of heights
// before it are deleted in the same batch. A state that records nothing
// (no lock, no valid block, nothing signed) is not written: losing it
// loses nothing, and a single validator, which commits in the same step it
// signs, then writes only its blocks.
func (e *bftEngine) persist(st *consensus.State) error {
	e.mu.Lock()
	e.status.Step = stepName(st.Step)
	e.status.LockedRound = st.LockedRound
	e.mu.Unlock()
	if st.LockedRound == consensus.NoRound && st.ValidRound == consensus.NoRound && len(st.Signed) == 0 {
		return nil
	}
	start := e.clock.Now()
	ws := []chain.AuxWrite{{Key: auxConsensusState, Value: consensus.EncodeState(st)}}
	if st.Height != e.stateHeight {
		clear(e.written)
		ws = append(ws, chain.AuxWrite{Key: payloadKey(0, chain.Hash{}), End: payloadKey(st.Height, chain.Hash{}), Delete: true})
		e.stateHeight = st.Height
	}
	keep := func(r uint64, block chain.Hash, payload []byte) {
		if r != consensus.NoRound && !e.written[block] {
			ws = append(ws, chain.AuxWrite{Key: payloadKey(st.Height, block), Value: payload})
			e.written[block] = true
		}
	}
	keep(st.LockedRound, st.LockedBlock, st.LockedPayload)
	keep(st.ValidRound, st.ValidBlock, st.ValidPayload)
	if err := e.store.WriteAux(ws...); err != nil {
		return fmt.Errorf("node: persist consensus state: %w", err)
	}
	e.metrics.PersistTime.Observe(e.clock.Now().Sub(start).Seconds())
	return nil
}

func stepName(s consensus.Step) string {
	switch s {
	case consensus.StepPropose:
		return "propose"
	case consensus.StepPrevote:
		return "prevote"
	case consensus.StepPrecommit:
		return "precommit"
	}
	return "unknown"
}

// snapshot publishes the core's position and counters.
func (e *bftEngine) snapshot() {
	st := e.core.Stats()
	e.mu.Lock()
	e.status.Height = e.core.Height()
	e.status.Round = e.core.Round()
	e.status.Leader = e.core.Leader()
	e.status.Committees = e.core.Committees()
	e.status.Stats = st
	if e.status.Step == "" {
		e.status.Step = stepName(consensus.StepPropose)
		e.status.LockedRound = consensus.NoRound
	}
	e.mu.Unlock()
	e.metrics.setStats(st, e.core.Height(), e.core.Round())
}

// participationWindow is how many recent certificates participation is
// counted over.
const participationWindow = 1000

// participation counts, per validator, the certificates it signed among the
// last window committed blocks (since the node started).
type participation struct {
	window  int
	ring    []consensus.Bitmap
	next    int
	filled  int
	signed  []int
	lastSet consensus.Bitmap
}

func newParticipation(n, window int) *participation {
	return &participation{window: window, ring: make([]consensus.Bitmap, window), signed: make([]int, n)}
}

func (p *participation) add(b consensus.Bitmap) {
	if old := p.ring[p.next]; old != nil {
		for _, i := range old.Members() {
			p.signed[i]--
		}
	} else {
		p.filled++
	}
	for _, i := range b.Members() {
		if int(i) < len(p.signed) {
			p.signed[i]++
		}
	}
	p.ring[p.next] = b
	p.next = (p.next + 1) % p.window
	p.lastSet = b
}

// Participation is, per validator, how many of the last Blocks committed
// certificates it signed.
type Participation struct {
	Blocks int
	Signed []int
	Last   consensus.Bitmap // signers of the newest certificate
}

// Participation returns the counts over the window.
func (e *bftEngine) Participation() Participation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Participation{Blocks: e.part.filled, Signed: append([]int(nil), e.part.signed...), Last: e.part.lastSet.Clone()}
}
