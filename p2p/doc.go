// Package p2p is the node's networking: a libp2p host, gossip topics with
// validation, peer discovery and management, the status handshake, and the
// block sync protocol.
//
// It moves bytes and knows no consensus rules. It imports none of the
// project's packages; the node hands it what it needs as functions: a
// validator per topic (Join), its committed height (Options.Head) and its
// committed blocks (Options.Blocks), and applies synced blocks itself
// (Sync's apply). It does not decode transactions, blocks or votes, and it
// never decides whether a block is valid: an apply error says so.
//
// # Host
//
// New builds a libp2p host with the node's ed25519 key: TCP and QUIC
// (quic-v1), Noise, yamux, a connection manager trimming from HighWater
// down to LowWater (96 and 32 by default; persistent peers are protected),
// a connection gater that refuses banned peers, and the resource manager
// with the limits written in resources.go (512 connections, 16,384 streams
// and 1 GiB in all; 8 connections, 512 streams and 128 MiB a peer; 4
// status and 4 sync streams a peer). libp2p's own metrics are off; the
// host's are in Metrics.
//
// # Discovery
//
// Bootstrap peers are dialled at start. Persistent peers are dialled at
// start and redialled when disconnected, with backoff doubling from one
// second to one minute. With Config.DHT, a Kademlia DHT in server mode with
// the protocol prefix /bizra/<chainid> (so chains never share a routing
// table) is walked every DiscoveryInterval while the host has fewer than
// LowWater peers, and the host connects to the peers it finds: a node given
// one bootstrap address finds the rest.
//
// # Gossip and the GossipConfig mapping
//
// Topics are GossipSub topics named /bizra/<chainid>/1/<name>. The design
// document's GossipConfig maps onto GossipSub as follows (GossipConfig.Params):
//
//	FanOut 6          D = 6, Dlo = 5, Dhi = 12, Dscore = 4, Dout = 2, Dlazy = 6
//	                  (Dlo = FanOut×5/6, Dhi = 2×FanOut, Dscore = FanOut×2/3,
//	                  Dout = min(FanOut/3, Dlo−1, FanOut/2−1), Dlazy = FanOut)
//	GossipInterval    the heartbeat (100 ms)
//	TTL 6             GossipSub has no hop counter. A hop takes at most about
//	                  one heartbeat (a mesh push is immediate, a gossip
//	                  IHAVE/IWANT round waits for the next heartbeat), so TTL
//	                  hops become an age: MaxAge = TTL × GossipInterval +
//	                  ClockDisparity = 1.1 s. IHAVE advertises the last
//	                  max(3, TTL) heartbeats; the cache keeps ⌈MaxAge /
//	                  GossipInterval⌉ heartbeats.
//	ClockDisparity    tolerated clock difference (500 ms)
//
// Every message travels in an envelope of ours: a version byte, the publish
// time in unix milliseconds, and the payload. The message ID is the SHA-256
// of the topic and the envelope, so relayed copies deduplicate while a later
// re-publication of the same payload is a new message. Messages are signed
// by their author (GossipSub's strict signing). Flood publishing is off (the
// library's default): a host sends its own messages to its mesh peers like
// any relayed message, which keeps the cost of a 2.5 MB block at D copies.
// A message published before the host's first heartbeat has formed a mesh
// in the topic reaches nobody; the host's users retry by their own timeouts.
//
// Each topic's validator runs before a message is delivered or relayed:
//
//  1. a malformed envelope, or a payload above MaxMessageBytes (4 MiB), is
//     rejected;
//  2. a message older than MaxAge, or more than ClockDisparity in the
//     future, is ignored: not delivered, not relayed, its sender not
//     penalised (its clock may be off), counted in bizra_p2p_ignored_total;
//  3. the caller's validator decides; Reject penalises the peer that sent
//     the message. Messages this host publishes skip this step.
//
// The router's queues (messages waiting to be sent to one peer, and
// messages waiting for validation) hold 1,024 each instead of GossipSub's
// 32, which a validator under load overflows.
//
// Messages delivers accepted messages from other peers in a buffered
// channel; when the reader is slow, messages are dropped and counted.
//
// # Peer scoring
//
// GossipSub peer scoring is on (score.go). A rejected message weighs −100
// times the square of the peer's recent invalid messages in that topic,
// decaying over ten minutes; honest behaviour earns at most +50. Thresholds:
// gossip −500, publish −1,000, graylist −2,500. Every second the host reads
// the scores and disconnects a peer below DisconnectThreshold (−1,000: four
// rejected messages in a short while), refusing it for BanDuration (ten
// minutes) in the connection gater.
//
// # Status protocol: /bizra/<chainid>/status/1
//
// On every new connection, and every StatusInterval (5 s), each side sends
// its status (version 2, chain ID, genesis hash, committed height, and the
// caller's protocol version, Options.Protocol: 53 bytes) and reads the
// other's, within 5 s. A peer with another chain ID or genesis, one that
// sends a malformed status, or one that does not speak the protocol is
// disconnected and banned (reason "chain"); one that sends another status
// version or protocol version runs another release, and is disconnected
// and banned with a log line that says so (reason "version"). Only peers that passed the
// exchange are listed by Peers and counted by PeerCount and BestHeight; a
// peer whose exchange fails three times in a row is disconnected.
//
// # Block sync protocol: /bizra/<chainid>/sync/1
//
// One request a stream: version, from height, max blocks (13 bytes; max at
// most 256). The response: version, a count, then each block as a 4-byte
// length and its bytes. A block is at most MaxMessageBytes, a response at
// most 32 MiB and never more blocks than asked for; the server stops before
// a block that would break a limit, and the reader checks each limit before
// it allocates. Each request has a deadline (SyncTimeout, 10 s). A peer
// whose response is malformed is disconnected and banned.
//
// Fetch asks one peer at a time, rotating. Sync splits a range into batches
// (SyncBatch, 32 blocks), keeps up to SyncParallel requests in flight to
// different peers, fetches at most 2 × SyncBatch × SyncParallel heights
// ahead, and applies blocks strictly in height order. A block that apply
// refuses gets its peer disconnected and banned and its range fetched from
// another peer.
//
// # Lifecycle
//
// New starts everything; Close stops it and waits for the host's
// goroutines. A Host is safe for concurrent use.
package p2p
