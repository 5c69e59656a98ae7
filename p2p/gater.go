package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater refuses banned peers: dials to them, and connections from them once
// the security handshake has told who they are.
type gater struct {
	mu    sync.Mutex
	until map[peer.ID]time.Time
}

func newGater() *gater { return &gater{until: make(map[peer.ID]time.Time)} }

// ban refuses p for d; it reports false if p was already banned.
func (g *gater) ban(p peer.ID, d time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if t, ok := g.until[p]; ok && now.Before(t) {
		return false
	}
	g.until[p] = now.Add(d)
	// Forget expired bans so that the map stays bounded by the peers
	// banned within one ban duration.
	for q, t := range g.until {
		if !now.Before(t) {
			delete(g.until, q)
		}
	}
	return true
}

func (g *gater) unban(p peer.ID) {
	g.mu.Lock()
	delete(g.until, p)
	g.mu.Unlock()
}

func (g *gater) banned(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.until[p]
	if !ok {
		return false
	}
	if !time.Now().Before(t) {
		delete(g.until, p)
		return false
	}
	return true
}

func (g *gater) InterceptPeerDial(p peer.ID) bool { return !g.banned(p) }

func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.banned(p) }

func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.banned(p)
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
