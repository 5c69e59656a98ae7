package node

import (
	"errors"
	"fmt"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/internal/codec"
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
	e := codec.NewEncoder(make([]byte, 0, 3+4*len(to)+m.EncodedSize()))
	e.U8(wireVersion)
	e.U16(uint16(len(to)))
	for _, v := range to {
		e.U32(v)
	}
	return m.AppendEncode(e.Bytes())
}

// decodeWire decodes a consensus wire message.
func decodeWire(b []byte) (to []uint32, m *consensus.Message, err error) {
	d := codec.NewDecoder(b, errWire)
	if v := d.U8("version"); d.Err() == nil && v != wireVersion {
		d.Failf("version", "%d, want %d", v, wireVersion)
	}
	n := int(d.U16("recipients"))
	switch {
	case d.Err() != nil:
	case n > maxWireTo:
		d.Failf("recipients", "%d, more than %d", n, maxWireTo)
	case d.Len() < 4*n:
		d.Failf("recipients", "%d, but %d bytes left", n, d.Len())
	case n > 0:
		to = make([]uint32, n)
		for i := range to {
			to[i] = d.U32("recipient")
		}
	}
	if err := d.Err(); err != nil {
		return nil, nil, err
	}
	if m, err = consensus.DecodeMessage(b[len(b)-d.Len():]); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errWire, err)
	}
	return to, m, nil
}
