package p2p

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	g := DefaultGossipConfig()
	if g != (GossipConfig{FanOut: 6, GossipInterval: 100 * time.Millisecond, TTL: 6, ClockDisparity: 500 * time.Millisecond}) {
		t.Fatalf("DefaultGossipConfig() = %+v", g)
	}
	if got := g.MaxAge(); got != 1100*time.Millisecond {
		t.Fatalf("MaxAge() = %s, want 1.1s", got)
	}
	if DefaultConfig().MaxMessageBytes != 4<<20 || !DefaultConfig().DHT {
		t.Fatal("default message limit or DHT wrong")
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.ListenAddrs = []string{"not-a-multiaddr"}
	c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} // no /p2p/
	c.LowWater, c.HighWater = 10, 5
	c.FanOut = 1
	c.TTL = 0
	c.MaxMessageBytes = 0
	c.SyncBatch = 0
	c.SyncServeRequests = 0
	c.SyncServeBytes = 1
	c.SyncServeTotalBytes = 0
	c.PeerQueueBytes = 0
	c.SlowPeerTimeout = 0
	err := c.Validate()
	if _, newErr := New(make([]byte, 64), c, Options{}); !errors.Is(newErr, ErrInvalidConfig) || !strings.Contains(newErr.Error(), err.Error()) {
		t.Fatalf("New() = %v, want ErrInvalidConfig with %v", newErr, err)
	}
	for _, want := range []string{"listen_addrs", "bootstrap", "high_water", "fan_out", "ttl", "max_message_bytes", "sync_batch",
		"sync_serve_requests", "sync_serve_bytes", "sync_serve_total_bytes", "peer_queue_bytes", "slow_peer_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() does not mention %s:\n%v", want, err)
		}
	}
	if c.LowWater != 10 || c.FanOut != 1 {
		t.Fatal("Validate changed the config")
	}
}

func TestGossipParamsMapping(t *testing.T) {
	p := DefaultGossipConfig().Params()
	if p.D != 6 || p.Dlo != 5 || p.Dhi != 12 || p.Dscore != 4 || p.Dout != 2 || p.Dlazy != 6 {
		t.Fatalf("mesh numbers D=%d Dlo=%d Dhi=%d Dscore=%d Dout=%d Dlazy=%d", p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout, p.Dlazy)
	}
	if p.HeartbeatInterval != 100*time.Millisecond || p.HistoryGossip != 6 || p.HistoryLength != 11 {
		t.Fatalf("heartbeat %s, history gossip %d, length %d", p.HeartbeatInterval, p.HistoryGossip, p.HistoryLength)
	}
	// Every fan-out Validate allows gives parameters GossipSub accepts.
	for d := 2; d <= 64; d++ {
		g := DefaultGossipConfig()
		g.FanOut = d
		p := g.Params()
		if !(p.Dlo <= p.D && p.D <= p.Dhi && p.Dscore <= p.Dhi && p.Dout < p.Dlo && p.Dout < p.D/2 || p.Dout == 0 && p.Dlo > 0 && p.D/2 == 0) {
			t.Errorf("fan-out %d: D=%d Dlo=%d Dhi=%d Dscore=%d Dout=%d break GossipSub's rules", d, p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout)
		}
		if p.HistoryGossip > p.HistoryLength {
			t.Errorf("fan-out %d: history gossip %d above length %d", d, p.HistoryGossip, p.HistoryLength)
		}
	}
}
