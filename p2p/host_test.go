package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A node given one bootstrap address finds a third node through the DHT.
func TestDiscoveryFindsThirdPeerThroughDHT(t *testing.T) {
	cfg := testConfig()
	b := newHost(t, "b", cfg, Options{})
	cfg.Bootstrap = b.Addrs()[:1]
	a := newHost(t, "a", cfg, Options{Head: func() uint64 { return 3 }})
	c := newHost(t, "c", cfg, Options{Head: func() uint64 { return 5 }})

	waitFor(t, 20*time.Second, "a and c to find each other", func() bool {
		return hasPeer(a, c.ID()) && hasPeer(c, a.ID())
	})
	waitFor(t, 5*time.Second, "heights from the status exchange", func() bool {
		return a.BestHeight() == 5 && c.BestHeight() == 3 && b.BestHeight() == 5
	})
	for _, p := range a.Peers() {
		if p.ID == c.ID() && p.Height != 5 {
			t.Errorf("a sees c at height %d, want 5", p.Height)
		}
	}
	if a.PeerCount() != 2 || counter(a.met.Peers) != 2 {
		t.Errorf("a has %d peers (gauge %v), want 2", a.PeerCount(), counter(a.met.Peers))
	}
}

// A persistent peer is redialled after it was disconnected, and listed as
// persistent.
func TestPersistentPeerRedialled(t *testing.T) {
	cfg := testConfig()
	cfg.DHT = false
	b := newHost(t, "pb", cfg, Options{})
	cfg.Persistent = b.Addrs()[:1]
	a := newHost(t, "pa", cfg, Options{})
	bID, _ := peer.Decode(b.ID())
	for round := range 2 {
		waitFor(t, 10*time.Second, "a to be connected to its persistent peer", func() bool { return hasPeer(a, b.ID()) })
		for _, p := range a.Peers() {
			if p.ID == b.ID() && (!p.Persistent || p.Inbound) {
				t.Fatalf("round %d: %+v, want persistent outbound", round, p)
			}
		}
		if round == 0 {
			if err := a.host.Network().ClosePeer(bID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the disconnect", func() bool { return !hasPeer(a, b.ID()) })
		}
	}
}

// A peer with another genesis, another chain ID or another protocol
// version is refused and disconnected, and cannot connect again while
// banned.
func TestChainMismatchRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config, *Options)
		reason string
	}{
		{"other genesis", func(c *Config, _ *Options) { c.Genesis = sha256.Sum256([]byte("another chain")) }, "chain"},
		{"other chain id", func(c *Config, _ *Options) { c.ChainID = testChainID + 1 }, "chain"},
		{"other protocol version", func(_ *Config, o *Options) { o.Protocol = 7 }, "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.DHT = false
			a := newHost(t, "a-"+tc.name, cfg, Options{Protocol: 3})
			other := testConfig()
			other.DHT = false
			otherOpts := Options{Protocol: 3}
			tc.mutate(&other, &otherOpts)
			other.Bootstrap = a.Addrs()[:1]
			b := newHost(t, "b-"+tc.name, other, otherOpts)

			aID, _ := peer.Decode(a.ID())
			bID, _ := peer.Decode(b.ID())
			waitFor(t, 10*time.Second, "a "+tc.reason+" disconnect", func() bool {
				return counter(a.met.Disconnects.WithLabelValues(tc.reason)) >= 1 ||
					counter(b.met.Disconnects.WithLabelValues(tc.reason)) >= 1
			})
			waitFor(t, 10*time.Second, "the connection to close", func() bool {
				return a.host.Network().Connectedness(bID) != network.Connected &&
					b.host.Network().Connectedness(aID) != network.Connected
			})
			if a.PeerCount() != 0 || b.PeerCount() != 0 {
				t.Fatalf("peer counts %d and %d, want 0", a.PeerCount(), b.PeerCount())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ai, _ := peer.AddrInfoFromString(a.Addrs()[0])
			err := b.host.Connect(ctx, *ai)
			if err == nil {
				// b may not have banned a (a did the refusing); then a's
				// gater refuses b once the security handshake names it.
				waitFor(t, 10*time.Second, "the redial to be dropped", func() bool {
					return a.host.Network().Connectedness(bID) != network.Connected
				})
			}
			if hasPeer(a, b.ID()) {
				t.Fatal("a lists the peer from another chain")
			}
		})
	}
}

// Close releases the listeners, connections and goroutines, and is safe to
// call twice.
func TestCloseReleasesEverything(t *testing.T) {
	// Warm up libp2p's process-wide goroutines before taking the baseline.
	warm := newHost(t, "warm", testConfig(), Options{})
	if err := warm.Close(); err != nil {
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine()

	cfg := testConfig()
	hosts := make([]*Host, 3)
	for i := range hosts {
		h, err := New(testKey("close-"+string(rune('a'+i))), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
		cfg.Bootstrap = hosts[0].Addrs()
	}
	topics := make([]*Topic, len(hosts))
	for i, h := range hosts {
		tp, err := h.Join("close", nil)
		if err != nil {
			t.Fatal(err)
		}
		topics[i] = tp
	}
	waitFor(t, 10*time.Second, "peers", func() bool { return hosts[0].PeerCount() == 2 })
	meshReady(t, 10*time.Second, topics...)
	if err := topics[1].Publish([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	receive(t, topics[0].Messages(), 10*time.Second, "bye")

	for _, h := range hosts {
		if err := h.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := h.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	if _, err := hosts[0].Join("after", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join after Close = %v, want ErrClosed", err)
	}
	if err := topics[0].Publish([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	for range drain(topics[0].Messages()) {
	}
	if _, ok := <-topics[0].Messages(); ok {
		t.Fatal("Messages channel still open after Close")
	}
	// Libraries end some goroutines just after Close returns; poll.
	const slack = 5
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > baseline+slack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines after Close, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:n])
		}
		<-tick.C
	}
}
