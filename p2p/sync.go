package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// syncLimits returns the bounds of a response to a request for max blocks.
func (h *Host) syncLimits(max int) syncLimits {
	return syncLimits{Count: max, Block: h.cfg.MaxMessageBytes, Total: MaxSyncResponseBytes}
}

// fetchFrom asks p for up to max blocks from height from.
func (h *Host) fetchFrom(ctx context.Context, p peer.ID, from uint64, max int) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SyncTimeout)
	defer cancel()
	s, err := h.host.NewStream(ctx, p, h.syncProto)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	if _, err := s.Write(syncRequest{From: from, Max: uint32(max)}.encode()); err != nil {
		s.Reset()
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return nil, err
	}
	blocks, err := readSyncResponse(bufio.NewReaderSize(s, 64<<10), h.syncLimits(max))
	if err != nil {
		s.Reset()
		return nil, err
	}
	return blocks, nil
}

// candidates returns the verified peers that advertise height ≥ from,
// rotated so that successive calls start at different peers.
func (h *Host) candidates(from uint64) []peer.ID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []peer.ID
	for id, st := range h.peers {
		if st.verified && st.height >= from {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	if len(out) > 1 {
		h.rr++
		k := h.rr % len(out)
		out = append(out[k:], out[:k]...)
	}
	return out
}

// Fetch returns up to max committed blocks from height from, asking the
// peers that advertise them one at a time, each with Config.SyncTimeout,
// starting at a different peer each call. A peer that answers with a
// malformed response is disconnected.
func (h *Host) Fetch(ctx context.Context, from uint64, max int) ([][]byte, error) {
	if max < 1 {
		return nil, fmt.Errorf("%w: max %d", ErrBadRange, max)
	}
	max = min(max, MaxSyncBlocks)
	var last error
	for _, p := range h.candidates(from) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		blocks, err := h.request(ctx, p, from, max)
		if err == nil && len(blocks) > 0 {
			return blocks, nil
		}
		if err != nil {
			last = err
		}
	}
	if last != nil {
		return nil, fmt.Errorf("%w: from %d: %w", ErrNoPeers, from, last)
	}
	return nil, fmt.Errorf("%w: from %d", ErrNoPeers, from)
}

// request is fetchFrom with metrics, disconnecting a peer whose response
// is malformed and penalising one that withholds blocks it advertised.
func (h *Host) request(ctx context.Context, p peer.ID, from uint64, max int) ([][]byte, error) {
	advertised := h.advertised(p)
	blocks, err := h.fetchFrom(ctx, p, from, max)
	switch {
	case err != nil:
		h.met.SyncRequests.WithLabelValues("error").Inc()
		if isWireError(err) {
			h.disconnect(p, "sync", err)
		}
		return blocks, err
	case len(blocks) == 0:
		h.met.SyncRequests.WithLabelValues("empty").Inc()
	default:
		h.met.SyncRequests.WithLabelValues("ok").Inc()
	}
	if why := h.withheld(from, max, advertised, blocks); why != "" {
		h.penalise(p, withheldPenalty, "withheld", fmt.Errorf("p2p: %s, heights %d.. asked for, %d advertised", why, from, advertised))
	}
	return blocks, nil
}

// advertised is the height p advertised, 0 for a peer not verified.
func (h *Host) advertised(p peer.ID) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.peers[p]; st != nil && st.verified {
		return st.height
	}
	return 0
}

// withheld says how a well-formed response to a request for max blocks
// from height from falls short of what a server advertising height
// advertised has, or "" when it does not. A server answers with every
// block it has from the height asked for, up to max, stopping only before
// a block that would take the response past MaxSyncResponseBytes; a
// server that cannot serve (it is busy, or serves no blocks) refuses the
// request rather than answering short. So an empty response for an
// advertised height is a lie, and so is a short one with room for another
// block of MaxMessageBytes left. Height 0, the genesis, is never judged:
// nodes build it from the genesis file and never ask for it.
func (h *Host) withheld(from uint64, max int, advertised uint64, blocks [][]byte) string {
	if from == 0 || advertised < from {
		return ""
	}
	want := uint64(max)
	if have := advertised - from + 1; have < want {
		want = have
	}
	if len(blocks) == 0 {
		return "empty response"
	}
	if uint64(len(blocks)) >= want {
		return ""
	}
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	if total+h.cfg.MaxMessageBytes <= MaxSyncResponseBytes {
		return fmt.Sprintf("%d blocks of %d bytes, short of %d", len(blocks), total, want)
	}
	return ""
}

// syncBatch is a range of heights to fetch.
type syncBatch struct {
	start uint64
	n     int
	tried map[peer.ID]bool // peers that failed it
}

type syncResult struct {
	b      *syncBatch
	p      peer.ID
	blocks [][]byte
	err    error
}

type readyBatch struct {
	b      *syncBatch
	p      peer.ID
	blocks [][]byte
}

// Sync fetches heights from..to (inclusive) in batches of Config.SyncBatch,
// up to Config.SyncParallel requests in flight, each to a different peer,
// and applies them strictly in height order. When apply fails, the block
// is taken as bad: the peer that served it is disconnected and banned, and
// the rest of its range is fetched from another peer. Sync returns the last
// height applied (from−1 when none was), so that a caller can resume from
// there; the error says why it stopped short of to.
func (h *Host) Sync(ctx context.Context, from, to uint64, apply func(height uint64, raw []byte) error) (uint64, error) {
	last := from - 1
	if from == 0 {
		last = 0
	}
	if to < from {
		return last, fmt.Errorf("%w: %d..%d", ErrBadRange, from, to)
	}
	s := &syncer{h: h, apply: apply, next: from, to: to, frontier: from,
		ready:   make(map[uint64]readyBatch),
		busy:    make(map[peer.ID]bool),
		bad:     make(map[peer.ID]bool),
		results: make(chan syncResult, h.cfg.SyncParallel),
	}
	ctx, cancel := context.WithCancel(ctx)
	err := s.run(ctx)
	cancel() // ends requests still in flight
	s.wait()
	if s.applied {
		last = s.next - 1
	}
	return last, err
}

// syncer is the state of one Sync call; only its run goroutine touches it.
type syncer struct {
	h        *Host
	apply    func(uint64, []byte) error
	next, to uint64
	applied  bool
	frontier uint64       // first height not yet in a batch
	cut      bool         // every height up to to is in a batch
	pending  []*syncBatch // by start
	ready    map[uint64]readyBatch
	busy     map[peer.ID]bool
	bad      map[peer.ID]bool
	inflight int
	results  chan syncResult
}

func (s *syncer) run(ctx context.Context) error {
	// window bounds how far ahead of the next height blocks are fetched.
	window := uint64(s.h.cfg.SyncBatch) * uint64(s.h.cfg.SyncParallel) * 2
	for {
		if err := s.applyReady(); err != nil {
			return err
		}
		if s.done() {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.dispatch(ctx, window)
		if s.inflight == 0 {
			if _, ok := s.ready[s.next]; ok {
				continue
			}
			return fmt.Errorf("%w: heights %d..%d", ErrNoPeers, s.next, s.to)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-s.results:
			s.inflight--
			delete(s.busy, r.p)
			s.receive(r)
		}
	}
}

func (s *syncer) done() bool { return s.applied && s.next-1 == s.to }

// cutBatch appends the next batch from the frontier; batches are cut as
// the window reaches them, so that a long range costs no memory up front.
func (s *syncer) cutBatch() {
	n := uint64(s.h.cfg.SyncBatch)
	if rest := s.to - s.frontier; rest < n-1 { // rest+1 heights remain
		n = rest + 1
	}
	s.pending = append(s.pending, &syncBatch{start: s.frontier, n: int(n)})
	if s.to-s.frontier < n { // frontier+n > to, written without overflow
		s.cut = true
		return
	}
	s.frontier += n
}

// dispatch sends requests for pending batches within the window to free
// peers that have not failed them.
func (s *syncer) dispatch(ctx context.Context, window uint64) {
	for i := 0; s.inflight < s.h.cfg.SyncParallel; {
		if i == len(s.pending) {
			if s.cut || s.frontier-s.next >= window {
				return
			}
			s.cutBatch()
		}
		b := s.pending[i]
		if b.start-s.next >= window {
			break
		}
		var pick peer.ID
		for _, p := range s.h.candidates(b.start) {
			if !s.busy[p] && !s.bad[p] && !b.tried[p] {
				pick = p
				break
			}
		}
		if pick == "" {
			i++
			continue
		}
		s.pending = slices.Delete(s.pending, i, i+1)
		s.busy[pick] = true
		s.inflight++
		if !s.h.goSafe(func() {
			blocks, err := s.h.request(ctx, pick, b.start, b.n)
			s.results <- syncResult{b: b, p: pick, blocks: blocks, err: err}
		}) {
			s.results <- syncResult{b: b, p: pick, err: ErrClosed}
		}
	}
}

// receive files a response: its blocks become ready, a short response
// leaves the rest pending, a failed one goes back to be tried elsewhere.
func (s *syncer) receive(r syncResult) {
	b := r.b
	if r.err != nil || len(r.blocks) == 0 || s.bad[r.p] {
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			s.h.log.Debug("sync request failed", "peer_id", r.p.String(), "from", b.start, "err", r.err)
		}
		s.requeue(b.start, b.n, b.tried, r.p)
		return
	}
	n := min(len(r.blocks), b.n)
	s.ready[b.start] = readyBatch{b: b, p: r.p, blocks: r.blocks[:n]}
	if n < b.n {
		s.requeue(b.start+uint64(n), b.n-n, nil, r.p)
	}
}

// requeue puts a range back, remembering the peer that failed it.
func (s *syncer) requeue(start uint64, n int, tried map[peer.ID]bool, failed peer.ID) {
	t := make(map[peer.ID]bool, len(tried)+1)
	for p := range tried {
		t[p] = true
	}
	t[failed] = true
	nb := &syncBatch{start: start, n: n, tried: t}
	i, _ := slices.BinarySearchFunc(s.pending, start, func(b *syncBatch, v uint64) int {
		switch {
		case b.start < v:
			return -1
		case b.start > v:
			return 1
		}
		return 0
	})
	s.pending = slices.Insert(s.pending, i, nb)
}

// applyReady applies the ready blocks at the next height, in order.
func (s *syncer) applyReady() error {
	for {
		rb, ok := s.ready[s.next]
		if !ok {
			return nil
		}
		delete(s.ready, s.next)
		for i, raw := range rb.blocks {
			height := s.next
			if err := s.apply(height, raw); err != nil {
				s.h.disconnect(rb.p, "sync", fmt.Errorf("block %d rejected: %w", height, err))
				s.bad[rb.p] = true
				s.requeue(height, len(rb.blocks)-i, rb.b.tried, rb.p)
				s.dropFrom(rb.p)
				break
			}
			s.next++
			s.applied = true
			s.h.met.HeightsApplied.Inc()
			if s.next-1 == s.to {
				return nil
			}
		}
	}
}

// dropFrom sends the ready blocks of a bad peer back to be fetched again.
func (s *syncer) dropFrom(p peer.ID) {
	for start, rb := range s.ready {
		if rb.p == p {
			delete(s.ready, start)
			s.requeue(start, len(rb.blocks), rb.b.tried, p)
		}
	}
}

// wait collects the requests still in flight, so that Sync leaves no
// goroutine behind.
func (s *syncer) wait() {
	for ; s.inflight > 0; s.inflight-- {
		<-s.results
	}
}
