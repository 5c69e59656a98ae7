package p2p

import (
	"bufio"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// syncRequestTimeout bounds the reading of a sync request (13 bytes).
const syncRequestTimeout = 5 * time.Second

// handleSync serves one block sync request: only to a peer that passed the
// status handshake, within the serving limits (serveLimiter), reading no
// more blocks than the response's byte budget holds (and one more, which
// it leaves out), and sending them as stored. A request it does not serve
// is refused: the stream is reset, which the requester takes as a failure
// of this peer and tries another, and is counted in
// bizra_p2p_sync_refused_total by reason.
func (h *Host) handleSync(s network.Stream) {
	defer s.Close()
	p := s.Conn().RemotePeer()
	if !h.verified(p) {
		h.refuseSync(s, refusedUnverified)
		return
	}
	_ = s.SetDeadline(time.Now().Add(min(h.cfg.SyncTimeout, syncRequestTimeout)))
	buf := make([]byte, syncRequestLen)
	if _, err := io.ReadFull(s, buf); err != nil {
		s.Reset()
		return
	}
	req, err := decodeSyncRequest(buf)
	if err != nil {
		h.log.Debug("bad sync request", "peer_id", p.String(), "err", err)
		s.Reset()
		return
	}
	if h.blocks == nil {
		h.refuseSync(s, refusedUnavailable)
		return
	}
	budget := syncBudget(int(req.Max), h.cfg.MaxMessageBytes)
	if ok, reason := h.serve.admit(p, budget, time.Now()); !ok {
		h.refuseSync(s, reason)
		return
	}
	blocks, err := h.blocks(req.From, int(req.Max), budget)
	used := 0
	for _, b := range blocks {
		used += len(b)
	}
	h.serve.settle(p, budget-used)
	if err != nil {
		h.log.Warn("serving blocks failed", "from", req.From, "max", req.Max, "served", len(blocks), "err", err)
		if len(blocks) == 0 {
			h.refuseSync(s, refusedUnavailable)
			return
		}
	}
	_ = s.SetDeadline(time.Now().Add(h.cfg.SyncTimeout))
	w := bufio.NewWriterSize(s, 64<<10)
	lim := h.syncLimits(int(req.Max))
	lim.Total = budget
	n, err := encodeSyncResponse(w, blocks, lim)
	if err != nil {
		s.Reset()
		return
	}
	if err := w.Flush(); err != nil {
		s.Reset()
		return
	}
	h.met.SyncServed.Inc()
	sent := 0
	for _, b := range blocks[:n] {
		sent += len(b)
	}
	h.met.SyncBytes.Add(float64(sent))
}

// syncBudget is the byte budget of a response to a request for max
// blocks: MaxSyncResponseBytes, or less when max blocks of the largest
// size fit in less.
func syncBudget(max, maxBlock int) int {
	return int(min(int64(MaxSyncResponseBytes), int64(max)*int64(maxBlock)))
}

func (h *Host) refuseSync(s network.Stream, reason string) {
	h.met.SyncRefused.WithLabelValues(reason).Inc()
	h.log.Debug("sync request refused", "peer_id", s.Conn().RemotePeer().String(), "reason", reason)
	s.Reset()
}

// verified reports whether p passed the status handshake.
func (h *Host) verified(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.peers[p]
	return st != nil && st.verified
}
