package p2p

import (
	"errors"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/bizra/node0/internal/config"
)

// GossipConfig is the design document's gossip configuration. GossipSub has
// no hop counter, so TTL is carried as an age bound: see MaxAge and the
// package documentation for the whole mapping.
type GossipConfig struct {
	// FanOut is the GossipSub mesh degree D; Dlo, Dhi, Dscore, Dout and
	// Dlazy are derived from it by Params.
	FanOut int `toml:"fan_out" doc:"Gossip mesh degree: peers each message is pushed to (GossipSub D)."`
	// GossipInterval is the GossipSub heartbeat.
	GossipInterval time.Duration `toml:"gossip_interval" doc:"Gossip heartbeat."`
	// TTL is the number of hops a message may travel, counted in
	// heartbeats: a message older than MaxAge is neither delivered nor
	// relayed.
	TTL int `toml:"ttl" doc:"Hops a message may travel, counted in heartbeats: a message older than ttl x gossip_interval + clock_disparity is neither delivered nor relayed."`
	// ClockDisparity is the clock difference tolerated between peers.
	ClockDisparity time.Duration `toml:"clock_disparity" doc:"Clock difference tolerated between peers."`
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

// validate reports the gossip configuration's problems as field errors.
func (g GossipConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if g.FanOut < 2 || g.FanOut > 64 {
		bad("fan_out", "must be between 2 and 64, not %d", g.FanOut)
	}
	if g.GossipInterval < 10*time.Millisecond || g.GossipInterval > time.Minute {
		bad("gossip_interval", "must be between 10ms and 1m, not %s", config.FormatDuration(g.GossipInterval))
	}
	if g.TTL < 1 || g.TTL > 1000 {
		bad("ttl", "must be between 1 and 1000, not %d", g.TTL)
	}
	if g.ClockDisparity < 0 || g.ClockDisparity > time.Minute {
		bad("clock_disparity", "must be between 0 and 1m, not %s", config.FormatDuration(g.ClockDisparity))
	}
	return errs
}

// Config configures a Host. DefaultConfig documents the defaults. The toml
// and doc tags are the p2p keys of a node's config file; the chain's
// identity and the internal tunables are not in the file.
type Config struct {
	// ChainID and Genesis identify the chain. Topics, protocols and the
	// DHT are scoped by ChainID; a peer with another chain ID or genesis
	// hash is refused in the status handshake and disconnected.
	ChainID uint64   `toml:"-"`
	Genesis [32]byte `toml:"-"`
	// ListenAddrs are the multiaddrs to listen on.
	ListenAddrs []string `toml:"listen_addrs" doc:"Multiaddrs to listen on, TCP and QUIC."`
	// Bootstrap peers (multiaddrs ending in /p2p/<id>) are dialled at start.
	Bootstrap []string `toml:"bootstrap" doc:"Peers dialled at start: multiaddrs ending in /p2p/<peer id>."`
	// Persistent peers (multiaddrs ending in /p2p/<id>) are kept connected:
	// redialled with exponential backoff when disconnected, and protected
	// from the connection manager's trimming.
	Persistent []string `toml:"persistent" doc:"Peers kept connected, redialled whenever they disconnect and never trimmed: multiaddrs ending in /p2p/<peer id>."`
	// LowWater and HighWater are the connection manager's watermarks: above
	// HighWater connections it trims back to LowWater.
	LowWater  int `toml:"low_water" doc:"Connection manager: connections kept when it trims; the DHT looks for peers while there are fewer."`
	HighWater int `toml:"high_water" doc:"Connection manager: above this many connections it trims back to low_water."`
	// GossipConfig is the gossip configuration; its keys sit directly in
	// the p2p section.
	GossipConfig
	// MaxMessageBytes bounds a gossip payload and a block served by sync.
	MaxMessageBytes int `toml:"max_message_bytes" doc:"Largest gossip message, and largest block served by sync, in bytes."`
	// DHT turns on Kademlia discovery.
	DHT bool `toml:"dht" doc:"Find peers through the Kademlia DHT of the chain."`
	// SyncServeRequests, SyncServeBytes and SyncServeTotalBytes bound what
	// block sync serves: requests a second from one peer, bytes a second
	// to one peer, and bytes a second to all peers together. A request
	// beyond them is refused (its stream reset); the requester tries
	// another peer. The byte limits allow a burst of a second's worth, and
	// at least two full responses (64 MiB).
	SyncServeRequests   float64 `toml:"sync_serve_requests" doc:"Block sync requests one peer may make per second; more are refused."`
	SyncServeBytes      int     `toml:"sync_serve_bytes" doc:"Block sync bytes served to one peer per second; a request beyond is refused."`
	SyncServeTotalBytes int     `toml:"sync_serve_total_bytes" doc:"Block sync bytes served to all peers together per second; a request beyond is refused."`
	// PeerQueueBytes bounds the gossip waiting to be sent to one peer: a
	// peer whose queue holds more is disconnected. SlowPeerTimeout
	// disconnects a peer that has gossip waiting and has taken none of it
	// for that long.
	PeerQueueBytes  int           `toml:"peer_queue_bytes" doc:"Gossip bytes that may wait to be sent to one peer; a peer that lets more pile up is disconnected."`
	SlowPeerTimeout time.Duration `toml:"slow_peer_timeout" doc:"A peer with gossip waiting that takes none of it for this long is disconnected."`

	// MessageBuffer is the depth of each topic's Messages channel.
	MessageBuffer int `toml:"-"`
	// StatusInterval is how often heights are refreshed from every peer.
	StatusInterval time.Duration `toml:"-"`
	// DiscoveryInterval is how often the DHT is walked for new peers while
	// the host has fewer than LowWater peers.
	DiscoveryInterval time.Duration `toml:"-"`
	// BanDuration is how long a peer is refused after it was disconnected
	// for a low score, another chain or a bad block.
	BanDuration time.Duration `toml:"-"`
	// SyncBatch is the number of blocks asked for in one sync request,
	// SyncParallel the number of requests in flight at once (each to a
	// different peer), and SyncTimeout the deadline of one request.
	SyncBatch    int           `toml:"-"`
	SyncParallel int           `toml:"-"`
	SyncTimeout  time.Duration `toml:"-"`
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

	// DefaultSyncServeRequests is 50 sync requests a second from one
	// peer: 1,600 blocks a second in the batches a node asks for.
	DefaultSyncServeRequests = 50
	// DefaultSyncServeBytes is 16 MiB a second of sync responses to one
	// peer, DefaultSyncServeTotalBytes 64 MiB a second to all together.
	DefaultSyncServeBytes      = 16 << 20
	DefaultSyncServeTotalBytes = 64 << 20
	// DefaultPeerQueueBytes is 32 MiB of gossip waiting for one peer:
	// eight messages of the largest size, a dozen full blocks.
	DefaultPeerQueueBytes = 32 << 20
	// DefaultSlowPeerTimeout is how long a peer may leave its gossip
	// unread: ten seconds.
	DefaultSlowPeerTimeout = 10 * time.Second
)

// DefaultConfig returns a host listening on TCP and QUIC on 127.0.0.1 with
// ports chosen by the system (a node chooses its own addresses), no
// bootstrap or persistent peers, keeping between 32 and 96 connections, the
// default gossip configuration, 4 MiB messages, the DHT on, 1,024 buffered
// messages a topic, heights refreshed every 5 s, discovery every 30 s,
// 10-minute bans, sync in batches of 32 blocks, 4 requests in flight,
// 10 s a request, sync served at 50 requests and 16 MiB a second a peer and
// 64 MiB a second in all, and 32 MiB of gossip waiting a peer, taken within
// 10 s. Chain ID and genesis are the node's to fill.
func DefaultConfig() Config {
	return Config{
		ListenAddrs: []string{
			"/ip4/127.0.0.1/tcp/0",
			"/ip4/127.0.0.1/udp/0/quic-v1",
		},
		Bootstrap:           []string{},
		Persistent:          []string{},
		LowWater:            32,
		HighWater:           96,
		GossipConfig:        DefaultGossipConfig(),
		MaxMessageBytes:     DefaultMaxMessageBytes,
		DHT:                 true,
		SyncServeRequests:   DefaultSyncServeRequests,
		SyncServeBytes:      DefaultSyncServeBytes,
		SyncServeTotalBytes: DefaultSyncServeTotalBytes,
		PeerQueueBytes:      DefaultPeerQueueBytes,
		SlowPeerTimeout:     DefaultSlowPeerTimeout,
		MessageBuffer:       1024,
		StatusInterval:      5 * time.Second,
		DiscoveryInterval:   30 * time.Second,
		BanDuration:         10 * time.Minute,
		SyncBatch:           32,
		SyncParallel:        4,
		SyncTimeout:         10 * time.Second,
	}
}

// Validate reports every problem at once, joined, each a
// *config.FieldError keyed by its setting ("fan_out"); it never changes the
// config. New refuses an invalid config with ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if len(c.ListenAddrs) == 0 {
		bad("listen_addrs", "must not be empty")
	}
	for _, a := range c.ListenAddrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			bad("listen_addrs", "%q: %v", a, err)
		}
	}
	for _, list := range []struct {
		key   string
		addrs []string
	}{{"bootstrap", c.Bootstrap}, {"persistent", c.Persistent}} {
		for _, a := range list.addrs {
			if _, err := peer.AddrInfoFromString(a); err != nil {
				bad(list.key, "%q must be a multiaddr ending in /p2p/<id>: %v", a, err)
			}
		}
	}
	if c.LowWater < 1 {
		bad("low_water", "must be positive, not %d", c.LowWater)
	}
	if c.HighWater <= c.LowWater {
		bad("high_water", "must be above low_water %d, not %d", c.LowWater, c.HighWater)
	}
	errs = append(errs, c.GossipConfig.validate()...)
	if c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxSyncResponseBytes {
		bad("max_message_bytes", "must be between 1 and %d (a block must fit a sync response), not %d", MaxSyncResponseBytes, c.MaxMessageBytes)
	}
	if c.SyncServeRequests < 0.1 || c.SyncServeRequests > 1e6 {
		bad("sync_serve_requests", "must be between 0.1 and 1000000, not %g", c.SyncServeRequests)
	}
	if c.SyncServeBytes < 64<<10 {
		bad("sync_serve_bytes", "must be at least 65536, not %d", c.SyncServeBytes)
	}
	if c.SyncServeTotalBytes < c.SyncServeBytes {
		bad("sync_serve_total_bytes", "must be at least sync_serve_bytes %d, not %d", c.SyncServeBytes, c.SyncServeTotalBytes)
	}
	if c.PeerQueueBytes < max(1, 2*c.MaxMessageBytes) {
		bad("peer_queue_bytes", "must hold two messages of max_message_bytes (%d), not %d", 2*c.MaxMessageBytes, c.PeerQueueBytes)
	}
	if c.SlowPeerTimeout < time.Second || c.SlowPeerTimeout > 10*time.Minute {
		bad("slow_peer_timeout", "must be between 1s and 10m, not %s", config.FormatDuration(c.SlowPeerTimeout))
	}
	// The tunables below are not in a config file; their keys name them
	// for a program that sets them.
	if c.MessageBuffer < 1 {
		bad("message_buffer", "must be positive, not %d", c.MessageBuffer)
	}
	if c.StatusInterval < 10*time.Millisecond {
		bad("status_interval", "must be at least 10ms, not %s", config.FormatDuration(c.StatusInterval))
	}
	if c.DiscoveryInterval < 10*time.Millisecond {
		bad("discovery_interval", "must be at least 10ms, not %s", config.FormatDuration(c.DiscoveryInterval))
	}
	if c.BanDuration < time.Second {
		bad("ban_duration", "must be at least 1s, not %s", config.FormatDuration(c.BanDuration))
	}
	if c.SyncBatch < 1 || c.SyncBatch > MaxSyncBlocks {
		bad("sync_batch", "must be between 1 and %d, not %d", MaxSyncBlocks, c.SyncBatch)
	}
	if c.SyncParallel < 1 || c.SyncParallel > 64 {
		bad("sync_parallel", "must be between 1 and 64, not %d", c.SyncParallel)
	}
	if c.SyncTimeout < 10*time.Millisecond {
		bad("sync_timeout", "must be at least 10ms, not %s", config.FormatDuration(c.SyncTimeout))
	}
	return errors.Join(errs...)
}

// syncBytesBurst is the burst of a sync byte limit of rate bytes a second:
// a second's worth, and at least two full responses.
func syncBytesBurst(rate int) int { return max(rate, 2*MaxSyncResponseBytes) }
