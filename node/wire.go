package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bizra/node0/consensus"
)

// protocolVersion is the version of what the node carries over libp2p:
// the consensus wire below and the transaction batches (net_txs.go). Peers
// advertise it in the status exchange, and a peer with another version is
// refused there (p2p.Options.Protocol). Version 1 carried a region byte on
// every consensus message.
const protocolVersion = 2

// The consensus gossip wire: what the node publishes on a consensus topic
// is
//
//	version u8 (2) | n u16 | to u32 × n | consensus message
//
// to lists the validators a message is meant for (empty: all). Gossip
// delivers every message to every subscriber; a validator not in to drops
// it after the topic check, so the core sees what it would see over a
// point-to-point network.
const wireVersion = protocolVersion

// maxWireTo bounds the recipient list (the core names at most a leader or
// an aggregator; the bound is generous).
const maxWireTo = 64

var errWire = errors.New("node: malformed consensus wire message")

func encodeWire(to []uint32, m *consensus.Message) []byte {
	body := m.Encode()
	b := make([]byte, 0, 3+4*len(to)+len(body))
	b = append(b, wireVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(to)))
	for _, v := range to {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, body...)
}

// decodeWire decodes a consensus wire message.
func decodeWire(b []byte) (to []uint32, m *consensus.Message, err error) {
	if len(b) < 3 {
		return nil, nil, fmt.Errorf("%w: %d bytes", errWire, len(b))
	}
	if b[0] != wireVersion {
		return nil, nil, fmt.Errorf("%w: version %d, want %d", errWire, b[0], wireVersion)
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n > maxWireTo || len(b) < 3+4*n {
		return nil, nil, fmt.Errorf("%w: %d recipients", errWire, n)
	}
	if n > 0 {
		to = make([]uint32, n)
		for i := range to {
			to[i] = binary.BigEndian.Uint32(b[3+4*i:])
		}
	}
	if m, err = consensus.DecodeMessage(b[3+4*n:]); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errWire, err)
	}
	return to, m, nil
}
