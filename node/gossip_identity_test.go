package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/node0/p2p"
)

// TestRejectedCopyHidesTheRealOneUnderAPartialIdentity shows, on real
// GossipSub, why a consensus message's identity covers every byte of it
// (wire.go) and not only the signed fields: GossipSub marks an identity
// seen before the topic validator runs, so a copy that shares the real
// message's identity but carries junk (an altered proposal payload, say)
// is rejected and still makes the real message a duplicate at every peer
// it reached first. With the payload's hash as the identity the junk copy
// is another message, and the real one arrives.
func TestRejectedCopyHidesTheRealOneUnderAPartialIdentity(t *testing.T) {
	// The "signed part" is the first 8 bytes; the rest is what a
	// receiver checks against it.
	signedOnly := func(payload []byte) []byte { return payload[:min(8, len(payload))] }
	real, junk := []byte("SIGNED01|real block"), []byte("SIGNED01|junk")
	for _, c := range []struct {
		name      string
		id        func([]byte) []byte
		delivered bool
	}{
		{"identity of the signed part only", signedOnly, false},
		{"identity of the whole payload", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rejected atomic.Int32
			validate := func(_ string, data []byte) p2p.Verdict {
				if !bytes.HasSuffix(data, []byte("real block")) && !bytes.HasSuffix(data, []byte("-ready")) {
					rejected.Add(1)
					return p2p.Reject
				}
				return p2p.Accept
			}
			victim := identityHost(t, nil)
			attacker := identityHost(t, victim.Addrs())
			publisher := identityHost(t, victim.Addrs())
			join := func(h *p2p.Host, v func(string, []byte) p2p.Verdict) *p2p.Topic {
				tp, err := h.JoinWith("identity", v, p2p.TopicOptions{ID: c.id})
				if err != nil {
					t.Fatal(err)
				}
				return tp
			}
			vt := join(victim, validate)
			at := join(attacker, nil)
			pt := join(publisher, validate)
			meshReady(t, vt, map[string]*p2p.Topic{attacker.ID(): at, publisher.ID(): pt})
			if err := at.Publish(junk); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the victim rejects the junk copy", func() bool { return rejected.Load() > 0 })
			if err := pt.Publish(real); err != nil {
				t.Fatal(err)
			}
			var got bool
			deadline := time.After(3 * time.Second)
		wait:
			for {
				select {
				case m := <-vt.Messages():
					if bytes.Equal(m.Data, real) {
						got = true
						break wait
					}
				case <-deadline:
					break wait
				}
			}
			if got != c.delivered {
				t.Fatalf("real message delivered: %v, want %v", got, c.delivered)
			}
		})
	}
}

// meshReady waits until the victim has heard each sender on the topic: a
// subscription is known before the mesh carries messages, so this waits
// on delivery itself. Every ready message's first 8 bytes differ.
func meshReady(t *testing.T, victim *p2p.Topic, senders map[string]*p2p.Topic) {
	t.Helper()
	heard := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; len(heard) < len(senders); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("mesh not ready: heard %v", heard)
		}
		i := 0
		for _, tp := range senders {
			if err := tp.Publish(fmt.Appendf(nil, "r%06d%d-ready", n, i)); err != nil {
				t.Fatal(err)
			}
			i++
		}
		timer := time.After(100 * time.Millisecond)
	drain:
		for {
			select {
			case m := <-victim.Messages():
				if bytes.HasSuffix(m.Data, []byte("-ready")) {
					heard[m.From] = true
				}
			case <-timer:
				break drain
			}
		}
	}
}

// identityHost is a bare libp2p host of the test chain on loopback.
func identityHost(t *testing.T, bootstrap []string) *p2p.Host {
	t.Helper()
	cfg := p2p.DefaultConfig()
	cfg.ChainID = 77
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Bootstrap = bootstrap
	cfg.DHT = false
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.New(key, cfg, p2p.Options{Logger: testLogger(t), Protocol: protocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}
