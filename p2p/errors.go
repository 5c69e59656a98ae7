package p2p

import "errors"

// Errors of the package. Errors of the transport itself come wrapped as
// the libp2p libraries return them.
var (
	ErrInvalidConfig   = errors.New("p2p: invalid config")
	ErrClosed          = errors.New("p2p: host closed")
	ErrMessageTooLarge = errors.New("p2p: message too large")
	ErrTopicJoined     = errors.New("p2p: topic already joined")
	ErrNoPeers         = errors.New("p2p: no peer has the blocks")
	ErrBadRange        = errors.New("p2p: bad block range")
	// ErrTopicRefused is a topic outside the host's list (Options.Topics):
	// Join refuses it, and so does the subscription filter when a peer
	// announces it.
	ErrTopicRefused = errors.New("p2p: topic not allowed")

	// Wire decoding.
	ErrEnvelope       = errors.New("p2p: malformed envelope")
	ErrStatus         = errors.New("p2p: malformed status")
	ErrSyncRequest    = errors.New("p2p: malformed sync request")
	ErrSyncResponse   = errors.New("p2p: malformed sync response")
	ErrBlockTooLarge  = errors.New("p2p: block too large")
	ErrResponseTooBig = errors.New("p2p: sync response too large")

	// Handshake.
	ErrWrongChain   = errors.New("p2p: peer is on another chain")
	ErrWrongGenesis = errors.New("p2p: peer has another genesis")
	// ErrVersion is a peer that speaks another version of the status
	// exchange or carries another protocol version: another release.
	ErrVersion = errors.New("p2p: peer runs an incompatible protocol version")
)
