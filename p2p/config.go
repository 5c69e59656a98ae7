package p2p

import (
	"errors"
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// GossipConfig is the design document's gossip configuration. GossipSub has
// no hop counter, so TTL is carried as an age bound: see MaxAge and the
// package documentation for the whole mapping.
type GossipConfig struct {
	// FanOut is the GossipSub mesh degree D; Dlo, Dhi, Dscore, Dout and
	// Dlazy are derived from it by Params.
	FanOut int
	// GossipInterval is the GossipSub heartbeat.
	GossipInterval time.Duration
	// TTL is the number of hops a message may travel, counted in
	// heartbeats: a message older than MaxAge is neither delivered nor
	// relayed.
	TTL int
	// ClockDisparity is the clock difference tolerated between peers.
	ClockDisparity time.Duration
}

// DefaultGossipConfig returns the design document's numbers: fan-out 6, a
// 100 ms heartbeat, 6 hops, and half a second of clock disparity.
func DefaultGossipConfig() GossipConfig {
	return GossipConfig{
		FanOut:         6,
		GossipInterval: 100 * time.Millisecond,
		TTL:            6,
		ClockDisparity: 500 * time.Millisecond,
	}
}

// MaxAge is the oldest a message may be when it is delivered or relayed:
// TTL × GossipInterval + ClockDisparity (1.1 s by default).
func (g GossipConfig) MaxAge() time.Duration {
	return time.Duration(g.TTL)*g.GossipInterval + g.ClockDisparity
}

// Params maps the configuration onto GossipSub's parameters, starting from
// the library's defaults:
//
//	D             = FanOut
//	Dlo           = max(1, FanOut×5/6)
//	Dhi           = 2×FanOut
//	Dscore        = FanOut×2/3
//	Dout          = min(FanOut/3, Dlo−1, FanOut/2−1), at least 0
//	Dlazy         = FanOut
//	Heartbeat     = GossipInterval
//	HistoryGossip = max(3, TTL) heartbeats advertised in IHAVE
//	HistoryLength = max(HistoryGossip, ⌈MaxAge / GossipInterval⌉) heartbeats cached
//
// With the defaults this gives D 6, Dlo 5, Dhi 12, Dscore 4, Dout 2,
// Dlazy 6 (the library's own mesh numbers), a 100 ms heartbeat, IHAVE for
// the last 6 heartbeats and a cache of 11. It is exported so that a
// propagation simulation can use the same numbers; it expects a config that
// passes Validate.
func (g GossipConfig) Params() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	d := g.FanOut
	p.D = d
	p.Dlo = max(1, d*5/6)
	p.Dhi = 2 * d
	p.Dscore = d * 2 / 3
	p.Dout = max(0, min(d/3, p.Dlo-1, d/2-1))
	p.Dlazy = d
	if g.GossipInterval > 0 {
		p.HeartbeatInterval = g.GossipInterval
		p.HeartbeatInitialDelay = min(p.HeartbeatInitialDelay, g.GossipInterval)
		p.HistoryGossip = max(3, g.TTL)
		hist := int((g.MaxAge() + g.GossipInterval - 1) / g.GossipInterval)
		p.HistoryLength = max(p.HistoryGossip, hist)
	}
	return p
}

// validate reports the gossip configuration's problems.
func (g GossipConfig) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if g.FanOut < 2 || g.FanOut > 64 {
		bad("p2p.gossip.fan_out %d must be between 2 and 64", g.FanOut)
	}
	if g.GossipInterval < 10*time.Millisecond || g.GossipInterval > time.Minute {
		bad("p2p.gossip.gossip_interval %s must be between 10ms and 1m", g.GossipInterval)
	}
	if g.TTL < 1 || g.TTL > 1000 {
		bad("p2p.gossip.ttl %d must be between 1 and 1000", g.TTL)
	}
	if g.ClockDisparity < 0 || g.ClockDisparity > time.Minute {
		bad("p2p.gossip.clock_disparity %s must be between 0 and 1m", g.ClockDisparity)
	}
	return errs
}

// Config configures a Host. DefaultConfig documents the defaults.
type Config struct {
	// ChainID and Genesis identify the chain. Topics, protocols and the
	// DHT are scoped by ChainID; a peer with another chain ID or genesis
	// hash is refused in the status handshake and disconnected.
	ChainID uint64
	Genesis [32]byte
	// ListenAddrs are the multiaddrs to listen on.
	ListenAddrs []string
	// Bootstrap peers (multiaddrs ending in /p2p/<id>) are dialled at start.
	Bootstrap []string
	// Persistent peers (multiaddrs ending in /p2p/<id>) are kept connected:
	// redialled with exponential backoff when disconnected, and protected
	// from the connection manager's trimming.
	Persistent []string
	// LowWater and HighWater are the connection manager's watermarks: above
	// HighWater connections it trims back to LowWater.
	LowWater, HighWater int
	// Gossip is the gossip configuration.
	Gossip GossipConfig
	// MaxMessageBytes bounds a gossip payload and a block served by sync.
	MaxMessageBytes int
	// DHT turns on Kademlia discovery.
	DHT bool

	// MessageBuffer is the depth of each topic's Messages channel.
	MessageBuffer int
	// StatusInterval is how often heights are refreshed from every peer.
	StatusInterval time.Duration
	// DiscoveryInterval is how often the DHT is walked for new peers while
	// the host has fewer than LowWater peers.
	DiscoveryInterval time.Duration
	// BanDuration is how long a peer is refused after it was disconnected
	// for a low score, another chain or a bad block.
	BanDuration time.Duration
	// SyncBatch is the number of blocks asked for in one sync request,
	// SyncParallel the number of requests in flight at once (each to a
	// different peer), and SyncTimeout the deadline of one request.
	SyncBatch    int
	SyncParallel int
	SyncTimeout  time.Duration
}

// Default limits.
const (
	// DefaultMaxMessageBytes is 4 MiB: a block of 20,000 transfers is about
	// 2.5 MB.
	DefaultMaxMessageBytes = 4 << 20
	// MaxSyncResponseBytes bounds one sync response (all blocks together).
	// A server stops adding blocks before the response would exceed it.
	MaxSyncResponseBytes = 32 << 20
	// MaxSyncBlocks bounds the blocks asked for in one sync request.
	MaxSyncBlocks = 256
)

// DefaultConfig returns a host listening on TCP and QUIC on 127.0.0.1 with
// ports chosen by the system, keeping between 64 and 128 connections, the
// default gossip configuration, 4 MiB messages, the DHT on, 1,024 buffered
// messages a topic, heights refreshed every 5 s, discovery every 30 s,
// 10-minute bans, and sync in batches of 32 blocks, 4 requests in flight,
// 10 s a request. Chain ID and genesis are the node's to fill.
func DefaultConfig() Config {
	return Config{
		ListenAddrs: []string{
			"/ip4/127.0.0.1/tcp/0",
			"/ip4/127.0.0.1/udp/0/quic-v1",
		},
		LowWater:          64,
		HighWater:         128,
		Gossip:            DefaultGossipConfig(),
		MaxMessageBytes:   DefaultMaxMessageBytes,
		DHT:               true,
		MessageBuffer:     1024,
		StatusInterval:    5 * time.Second,
		DiscoveryInterval: 30 * time.Second,
		BanDuration:       10 * time.Minute,
		SyncBatch:         32,
		SyncParallel:      4,
		SyncTimeout:       10 * time.Second,
	}
}

// Validate reports every problem at once; it never changes the config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.ListenAddrs) == 0 {
		bad("p2p.listen_addrs must not be empty")
	}
	for _, a := range c.ListenAddrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			bad("p2p.listen_addrs %q: %v", a, err)
		}
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"bootstrap", c.Bootstrap}, {"persistent", c.Persistent}} {
		for _, a := range list.addrs {
			if _, err := peer.AddrInfoFromString(a); err != nil {
				bad("p2p.%s %q must be a multiaddr ending in /p2p/<id>: %v", list.name, a, err)
			}
		}
	}
	if c.LowWater < 1 {
		bad("p2p.low_water %d must be positive", c.LowWater)
	}
	if c.HighWater <= c.LowWater {
		bad("p2p.high_water %d must be above low_water %d", c.HighWater, c.LowWater)
	}
	errs = append(errs, c.Gossip.validate()...)
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxSyncResponseBytes {
		bad("p2p.max_message_bytes %d must be between 1 and %d (a block must fit a sync response)", c.MaxMessageBytes, MaxSyncResponseBytes)
	}
	if c.MessageBuffer < 1 {
		bad("p2p.message_buffer %d must be positive", c.MessageBuffer)
	}
	if c.StatusInterval < 10*time.Millisecond {
		bad("p2p.status_interval %s must be at least 10ms", c.StatusInterval)
	}
	if c.DiscoveryInterval < 10*time.Millisecond {
		bad("p2p.discovery_interval %s must be at least 10ms", c.DiscoveryInterval)
	}
	if c.BanDuration < time.Second {
		bad("p2p.ban_duration %s must be at least 1s", c.BanDuration)
	}
	if c.SyncBatch < 1 || c.SyncBatch > MaxSyncBlocks {
		bad("p2p.sync_batch %d must be between 1 and %d", c.SyncBatch, MaxSyncBlocks)
	}
	if c.SyncParallel < 1 || c.SyncParallel > 64 {
		bad("p2p.sync_parallel %d must be between 1 and 64", c.SyncParallel)
	}
	if c.SyncTimeout < 10*time.Millisecond {
		bad("p2p.sync_timeout %s must be at least 10ms", c.SyncTimeout)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidConfig, errors.Join(errs...))
}
