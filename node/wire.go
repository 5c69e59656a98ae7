package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/internal/codec"
)

// protocolVersion is the version of what the node carries over libp2p:
// the consensus wire below and the transaction batches (net_txs.go). Peers
// advertise it in the status exchange, and a peer with another version is
// refused there (p2p.Options.Protocol). Version 1 carried a region byte on
// every consensus message; version 2 a recipient list and the sender
// index.
const protocolVersion = 3

// The consensus gossip wire: what the node publishes on a consensus topic
// is
//
//	version u8 (3) | attempt u8 (0..3) | kind u8 | body
//
// where kind and body are the consensus message encoding
// (consensus.Message.Encode) without its sender index. Every byte is
// either signed (a vote's or a timeout's fields and signature, a
// proposal's height, round, block, valid round and signature), checked
// against what is signed (a certificate's signer bitmap, a proposal's
// proof of lock and its payload, which must decode to the block it names:
// see gossipCheck), or the attempt. Nothing unsigned decides who acts on a
// message: the receiver takes the sender from the body (a vote's or a
// timeout's validator, a proposal's proposer, an aggregate's committee
// aggregator, a certificate's first signer), and every validator hands the
// core every message it accepts, whose rules decide what concerns it (a
// vote reaches an aggregator or a leader only because it is theirs to
// collect; a validator that is neither drops it at once).
//
// The message identity GossipSub deduplicates by is the hash of the whole
// payload (p2p's default, not an ID function): a re-wrapped copy is the
// same message, and since no byte may be changed without changing what a
// receiver does or without failing the checks, a copy that differs from
// the real one in any byte has another identity. That matters because
// GossipSub marks an identity seen before the topic validator runs: a
// copy sharing the real message's identity (one leaving out the payload,
// say) would, even rejected, make the real message a duplicate at every
// peer it reached first.
//
// The attempt is the one unsigned byte in the identity: a sender sending
// the same body again within GossipSub's seen-message window (the core's
// resends: a leader's proposal and certificate, a voter's fallback to the
// leader, timeouts repeated while a round lasts) gives the copy another
// attempt (attempts: which one, and when), so that it travels instead of
// being dropped as a duplicate at its source. Four attempts bound the copies of one body anyone can make
// within the window at four per topic (see gossipCheck for why each costs
// a receiver neither a signature check nor a second step).
const wireVersion = protocolVersion

// maxAttempt is the highest attempt on the wire.
const maxAttempt = 3

// wireHeader is the version and the attempt.
const wireHeader = 2

var errWire = errors.New("node: malformed consensus wire message")

// encodeWire encodes a message for gossip with an attempt (0..maxAttempt).
func encodeWire(attempt uint8, m *consensus.Message) []byte {
	b := make([]byte, 0, wireHeader+m.EncodedSize())
	b = append(b, wireVersion, attempt)
	b = m.AppendEncode(b)
	// Cut the sender index (u32 after the kind byte).
	return append(b[:wireHeader+1], b[wireHeader+1+4:]...)
}

// decodeWire decodes a consensus wire message. The message's From is the
// sender its body names (wireSender); for an aggregate the validator
// replaces it with the committee's aggregator.
func decodeWire(b []byte) (attempt uint8, m *consensus.Message, err error) {
	d := codec.NewDecoder(b, errWire)
	v := d.U8("version")
	attempt = d.U8("attempt")
	switch {
	case d.Err() != nil:
	case v != wireVersion:
		d.Failf("version", "%d, want %d", v, wireVersion)
	case attempt > maxAttempt:
		d.Failf("attempt", "%d, more than %d", attempt, maxAttempt)
	case d.Len() == 0:
		d.Failf("message kind", "missing")
	}
	if err := d.Err(); err != nil {
		return 0, nil, err
	}
	body := b[wireHeader:]
	full := make([]byte, len(body)+4)
	full[0] = body[0]
	copy(full[5:], body[1:])
	if m, err = consensus.DecodeMessage(full); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errWire, err)
	}
	m.From = wireSender(m)
	return attempt, m, nil
}

// wireSender is the validator a message's body names as its author: the
// signer of a vote, a timeout or a proposal; the lowest signer of an
// aggregate or a certificate (a validator that has reached its height).
func wireSender(m *consensus.Message) uint32 {
	switch {
	case m.Vote != nil:
		return m.Vote.Validator
	case m.Timeout != nil:
		return m.Timeout.Validator
	case m.Proposal != nil:
		return m.Proposal.Proposer
	case m.QC != nil:
		return firstSigner(m.QC.Signers)
	case m.TC != nil:
		return firstSigner(m.TC.Signers)
	}
	return 0
}

func firstSigner(b consensus.Bitmap) uint32 {
	for i, x := range b {
		for j := range 8 {
			if x&(1<<j) != 0 {
				return uint32(8*i + j)
			}
		}
	}
	return 0
}

// wireBody is the part of a wire message that identifies its body across
// attempts: everything after the attempt.
func wireBody(b []byte) []byte {
	if len(b) < wireHeader {
		return nil
	}
	return b[wireHeader:]
}

// wireHeight reads the height of a wire message without decoding it (every
// body has it at a fixed place: after the vote or certificate type for
// those that have one); false when b is too short.
func wireHeight(b []byte) (uint64, bool) {
	if len(b) < wireHeader+1 {
		return 0, false
	}
	at := wireHeader + 1
	switch consensus.Kind(b[wireHeader]) {
	case consensus.KindVote, consensus.KindAggregate, consensus.KindQC:
		at++
	}
	if len(b) < at+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[at:]), true
}
