package p2p

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// Resource manager limits for a validator. The libp2p defaults (with the
// limits of its own services) are scaled for 1 GiB and 4,096 descriptors and
// then bounded by these numbers, which follow from the connection manager's
// watermarks and the message sizes:
//
//	system     512 connections (384 in, 256 out), 16,384 streams, 1 GiB, 4,096 descriptors
//	transient  128 connections, 512 streams, 128 MiB (not yet upgraded or negotiated)
//	per peer   8 connections (4 in, 4 out), 512 streams, 128 MiB
//	status     per peer 4 streams (2 in, 2 out)
//	sync       per peer 4 streams (2 in, 2 out): one sync response can be 32 MiB
//	dht        per peer 16 streams (8 in, 8 out): the DHT reads a message of
//	           up to 4 MiB a stream into memory it allocates as soon as it
//	           has read the length, outside the resource manager's account,
//	           and holds a stream for a minute; the library's default of 64
//	           inbound streams a peer let one peer pin 256 MiB; all peers
//	           together 256 streams (128 in, 128 out)
//
// 512 connections leave room above HighWater (96 by default) for the
// connection manager's grace period and for inbound bursts. 128 MiB a peer
// covers one full sync response in flight each way plus gossip buffers.
const (
	rcSystemConns     = 512
	rcSystemConnsIn   = 384
	rcSystemConnsOut  = 256
	rcSystemStreams   = 16384
	rcSystemMemory    = 1 << 30
	rcSystemFD        = 4096
	rcTransientConns  = 128
	rcTransientStream = 512
	rcTransientMemory = 128 << 20
	rcPeerConns       = 8
	rcPeerConnsDir    = 4
	rcPeerStreams     = 512
	rcPeerMemory      = 128 << 20
	rcProtoPeerStream = 4
	rcDHTPeerStreams  = 16
	rcDHTStreams      = 256
)

// resourceLimits builds the limiter described above.
func resourceLimits(statusProto, syncProto, dhtProto protocol.ID) rcmgr.Limiter {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(rcSystemMemory, rcSystemFD)

	proto := rcmgr.ResourceLimits{
		Streams:         rcProtoPeerStream,
		StreamsInbound:  rcProtoPeerStream / 2,
		StreamsOutbound: rcProtoPeerStream / 2,
	}
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: rcSystemConns, ConnsInbound: rcSystemConnsIn, ConnsOutbound: rcSystemConnsOut,
			Streams: rcSystemStreams, StreamsInbound: rcSystemStreams / 2, StreamsOutbound: rcSystemStreams / 2,
			Memory: rcSystemMemory, FD: rcSystemFD,
		},
		Transient: rcmgr.ResourceLimits{
			Conns: rcTransientConns, ConnsInbound: rcTransientConns / 2, ConnsOutbound: rcTransientConns / 2,
			Streams: rcTransientStream, StreamsInbound: rcTransientStream / 2, StreamsOutbound: rcTransientStream / 2,
			Memory: rcTransientMemory, FD: rcTransientConns,
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns: rcPeerConns, ConnsInbound: rcPeerConnsDir, ConnsOutbound: rcPeerConnsDir,
			Streams: rcPeerStreams, StreamsInbound: rcPeerStreams / 2, StreamsOutbound: rcPeerStreams / 2,
			Memory: rcPeerMemory, FD: rcPeerConns,
		},
		Protocol: map[protocol.ID]rcmgr.ResourceLimits{
			dhtProto: {Streams: rcDHTStreams, StreamsInbound: rcDHTStreams / 2, StreamsOutbound: rcDHTStreams / 2},
		},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{
			statusProto: proto,
			syncProto:   proto,
			dhtProto: {
				Streams:         rcDHTPeerStreams,
				StreamsInbound:  rcDHTPeerStreams / 2,
				StreamsOutbound: rcDHTPeerStreams / 2,
			},
		},
	}
	return rcmgr.NewFixedLimiter(partial.Build(base))
}

// newResourceManager returns the resource manager; its own Prometheus
// metrics stay off, the host's metrics are ours.
func newResourceManager(statusProto, syncProto, dhtProto protocol.ID) (network.ResourceManager, error) {
	return rcmgr.NewResourceManager(resourceLimits(statusProto, syncProto, dhtProto), rcmgr.WithMetricsDisabled())
}
