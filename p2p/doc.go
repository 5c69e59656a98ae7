// Package p2p is the node's networking: a libp2p host, gossip topics with
// validation, peer discovery and management, the status handshake, and the
// block sync protocol.
//
// It moves bytes and knows no consensus rules. It imports none of the
// project's packages; the node hands it what it needs as functions: a
// validator per topic (Join), the topics it may join (Options.Topics), its
// committed height (Options.Head) and its committed blocks as stored
// (Options.Blocks), and applies synced blocks itself (Sync's apply). It does not decode transactions, blocks or votes, and it
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
// status, 4 sync and 16 DHT streams a peer, 256 DHT streams in all: the
// DHT allocates a message of up to 4 MiB a stream before reading it).
// libp2p's own metrics are off; the host's are in Metrics.
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
// of the topic and the payload's identity (TopicOptions.ID, or the payload
// itself), never of the envelope, so that relayed copies and re-wrapped
// copies deduplicate alike. Messages are signed
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
// # Subscription filter
//
// Peers may announce only the chain's topics: /bizra/<chainid>/1/<name>
// with a name from Options.Topics (the node lists its consensus topics,
// transactions and one vote subnet per committee); without the list, any
// well-formed name (letters, digits, . _ - /, at most 64 bytes). Join
// refuses a name outside the list (ErrTopicRefused). An RPC may carry at
// most 64 subscriptions, and a peer may hold at most 64 at once. A refused
// topic is left out of the router's tables and costs its announcer, once
// it has passed the status handshake, 150 penalty points (seven in a short
// while disconnect it; a node of another chain announcing its own topics
// before the handshake refuses it is not penalised for them); an RPC with
// more than 64 subscriptions is ignored whole and disconnects its sender at
// once (reason "topics"). Without the filter a peer could announce invented
// topics without end (GossipSub reads up to 512 KiB of subscriptions an
// RPC, about 18,000 topics), each kept in the router's tables until it left.
//
// # Outbound queues
//
// GossipSub bounds a peer's outbound queue in messages only, and a message
// can be 4 MiB: a peer that stops reading would pin 1,024 of them. A tracer
// of the router (outbound.go) counts the bytes queued for each peer and
// disconnects (reason "slow", without a ban) a peer whose queue holds more than
// PeerQueueBytes (32 MiB), or that has had gossip waiting and taken none of
// it for SlowPeerTimeout (10 s). An RPC that does not fit a full queue is
// dropped by the router and counted (bizra_p2p_outbound_dropped_total).
// Incoming data is bounded by the resource manager (yamux receive windows
// count against a peer's 128 MiB).
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
// Misbehaviour outside gossip messages earns penalty points (penalty.go):
// 150 for each topic the subscription filter refuses, 300 for a sync
// response that withholds advertised blocks. Points halve every two
// minutes; a peer that reaches 1,000 is disconnected and banned for the
// misbehaviour that took it there (reason "topics" or "withheld"). The
// points, negated, are also the peer's application-specific gossip score,
// so a penalised peer stops getting gossip from us before it is cut off.
// bizra_p2p_penalties_total counts the points by reason.
//
// # Disconnect reasons
//
// Every disconnect but "slow" bans the peer for BanDuration; each is
// counted in bizra_p2p_disconnects_total{reason} with a log line:
//
//	score     gossip score below DisconnectThreshold
//	chain     another chain ID or genesis, a malformed status, or no status protocol
//	version   another status or protocol version: another release
//	sync      a malformed sync response, or a synced block that apply refused
//	withheld  penalty points for sync responses that withheld advertised blocks
//	topics    penalty points for refused topics, or one RPC with too many subscriptions
//	slow      a gossip queue above PeerQueueBytes, or untouched for SlowPeerTimeout
//	          (not banned: a slow peer may reconnect at once, with an empty queue)
//	ban       an operator's Ban
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
// and banned with a log line that says so (reason "version"). Only peers
// that passed the exchange are listed by Peers, counted by PeerCount and
// BestHeight, and served block sync; a peer whose exchange fails three
// times in a row is disconnected. The side that answers an exchange records
// the peer before it writes its answer, so that a peer may send sync
// requests as soon as it has read it.
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
// A server answers only peers that passed the status handshake. It holds
// each peer to SyncServeRequests requests a second (50) and SyncServeBytes
// bytes a second (16 MiB), and all peers together to SyncServeTotalBytes
// (64 MiB); the byte limits allow a burst of a second's worth and at least
// two full responses. A request reserves its response's budget (32 MiB, or
// max × MaxMessageBytes when less) before any block is read, and gives back
// what the blocks did not use; the node's Options.Blocks reads blocks as
// stored, stopping before the first that would pass the budget. So a
// 13-byte request makes the server read at most one response and one
// block, and what peers make it read and hold follows the rates. A request
// it does not serve (unverified peer, a limit, no blocks) is refused: the
// stream is reset and the refusal counted in
// bizra_p2p_sync_refused_total{reason}; the requester tries another peer.
// A server never answers short for want of capacity: it refuses instead.
//
// So a response that is empty, or short with room left for another block of
// MaxMessageBytes, for heights up to the height the server advertised,
// withholds blocks: the requester gives the server 300 penalty points, and
// four such answers in a short while disconnect it (reason "withheld"). A
// server that resets instead costs its requester a round trip and is not
// penalised: an honest server refuses that way when busy.
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
