package p2p

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

const (
	// statusTimeout bounds one status exchange.
	statusTimeout = 5 * time.Second
	// maxStatusFailures is how many exchanges in a row may fail before the
	// peer is disconnected (without a ban: it may have been busy).
	maxStatusFailures = 3
)

func (h *Host) ourStatus() status {
	return status{ChainID: h.cfg.ChainID, Genesis: h.cfg.Genesis, Head: h.head(), Protocol: h.protocol}
}

// checkStatus compares a peer's status with ours.
func (h *Host) checkStatus(s status) error {
	if s.ChainID != h.cfg.ChainID {
		return fmt.Errorf("%w: chain id %d, ours %d", ErrWrongChain, s.ChainID, h.cfg.ChainID)
	}
	if s.Genesis != h.cfg.Genesis {
		return fmt.Errorf("%w: %x, ours %x", ErrWrongGenesis, s.Genesis[:8], h.cfg.Genesis[:8])
	}
	if s.Protocol != h.protocol {
		return fmt.Errorf("%w: the peer carries protocol version %d, this node %d (it runs another release)", ErrVersion, s.Protocol, h.protocol)
	}
	return nil
}

// refusalReason is the disconnect reason of a failed status check.
func refusalReason(err error) string {
	if errors.Is(err, ErrVersion) {
		return "version"
	}
	return "chain"
}

// learn records a peer's status, or disconnects a peer on another chain.
func (h *Host) learn(p peer.ID, s status) {
	if err := h.checkStatus(s); err != nil {
		h.disconnect(p, refusalReason(err), err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.host.Network().Connectedness(p) != network.Connected {
		return
	}
	st := h.peers[p]
	if st == nil {
		st = &peerState{}
		h.peers[p] = st
	}
	if !st.verified {
		h.log.Debug("peer verified", "peer_id", p.String(), "height", s.Head)
	}
	st.verified = true
	st.failures = 0
	st.height = s.Head
	h.updateGaugesLocked()
}

// startExchange starts a status exchange with p unless one is under way.
func (h *Host) startExchange(p peer.ID) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	st := h.peers[p]
	if st == nil {
		st = &peerState{}
		h.peers[p] = st
	}
	if st.exchanging {
		h.mu.Unlock()
		return
	}
	st.exchanging = true
	h.mu.Unlock()
	if !h.goSafe(func() { h.exchangeStatus(p) }) {
		h.mu.Lock()
		st.exchanging = false
		h.mu.Unlock()
	}
}

// exchangeStatus sends our status to p and reads p's.
func (h *Host) exchangeStatus(p peer.ID) {
	s, err := h.requestStatus(p)
	h.mu.Lock()
	st := h.peers[p]
	if st != nil {
		st.exchanging = false
		if err != nil {
			st.failures++
		}
	}
	drop := st != nil && st.failures >= maxStatusFailures
	h.mu.Unlock()
	if err == nil {
		h.learn(p, s)
		return
	}
	if isWireError(err) || errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
		h.disconnect(p, refusalReason(err), err)
		return
	}
	if h.ctx.Err() == nil {
		h.log.Debug("status exchange failed", "peer_id", p.String(), "err", err)
	}
	if drop {
		h.log.Info("dropping peer after failed status exchanges", "peer_id", p.String(), "err", err)
		_ = h.host.Network().ClosePeer(p)
	}
}

func (h *Host) requestStatus(p peer.ID) (status, error) {
	ctx, cancel := context.WithTimeout(h.ctx, statusTimeout)
	defer cancel()
	s, err := h.host.NewStream(ctx, p, h.statusProto)
	if err != nil {
		return status{}, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(statusTimeout))
	if _, err := s.Write(h.ourStatus().encode()); err != nil {
		s.Reset()
		return status{}, err
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return status{}, err
	}
	st, err := readStatus(s)
	if err != nil {
		s.Reset()
	}
	return st, err
}

// handleStatus answers a peer's status with ours.
func (h *Host) handleStatus(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(statusTimeout))
	remote, err := readStatus(s)
	if err != nil {
		if errors.Is(err, ErrVersion) {
			_, _ = s.Write(h.ourStatus().encode()) // so that the peer learns why
		} else {
			s.Reset()
		}
		if isWireError(err) {
			h.disconnect(s.Conn().RemotePeer(), refusalReason(err), err)
		}
		return
	}
	// A peer on our chain is verified before it reads our answer, so that
	// the requests it may send as soon as it has verified us are served.
	// A peer on another chain gets the answer first, so that it learns
	// why it is refused, and is disconnected after.
	p := s.Conn().RemotePeer()
	ours := h.checkStatus(remote) == nil
	if ours {
		h.learn(p, remote)
	}
	if _, err := s.Write(h.ourStatus().encode()); err != nil {
		s.Reset()
	}
	if !ours {
		h.learn(p, remote)
	}
}

// statusLoop refreshes every peer's status each StatusInterval and keeps
// the peer gauges current.
func (h *Host) statusLoop() {
	h.every(h.cfg.StatusInterval, func() {
		for _, p := range h.host.Network().Peers() {
			h.startExchange(p)
		}
	})
}
