package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bizra/node0/consensus"
)

// The consensus gossip wire: what the node publishes on a consensus topic
// is
//
//	version u8 (1) | region u8 (0: none, else index+1) | n u16 | to u32 × n | consensus message
//
// to lists the validators a message is meant for (empty: all). Gossip
// delivers every message to every subscriber; a validator not in to drops
// it after the topic check, so the core sees what it would see over a
// point-to-point network. region is the sender's region label, for
// emulated wide-area latency on testnets.

const wireVersion = 1

// maxWireTo bounds the recipient list (the core names at most a leader or
// an aggregator; the bound is generous).
const maxWireTo = 64

var errWire = errors.New("node: malformed consensus wire message")

func encodeWire(to []uint32, region int, m *consensus.Message) []byte {
	body := m.Encode()
	b := make([]byte, 0, 4+4*len(to)+len(body))
	b = append(b, wireVersion, byte(region+1))
	b = binary.BigEndian.AppendUint16(b, uint16(len(to)))
	for _, v := range to {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, body...)
}

// decodeWire decodes a consensus wire message; region is -1 when none.
func decodeWire(b []byte) (to []uint32, region int, m *consensus.Message, err error) {
	if len(b) < 4 {
		return nil, -1, nil, fmt.Errorf("%w: %d bytes", errWire, len(b))
	}
	if b[0] != wireVersion {
		return nil, -1, nil, fmt.Errorf("%w: version %d", errWire, b[0])
	}
	region = int(b[1]) - 1
	if region >= len(regions) {
		return nil, -1, nil, fmt.Errorf("%w: region %d", errWire, region)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > maxWireTo || len(b) < 4+4*n {
		return nil, -1, nil, fmt.Errorf("%w: %d recipients", errWire, n)
	}
	if n > 0 {
		to = make([]uint32, n)
		for i := range to {
			to[i] = binary.BigEndian.Uint32(b[4+4*i:])
		}
	}
	if m, err = consensus.DecodeMessage(b[4+4*n:]); err != nil {
		return nil, -1, nil, fmt.Errorf("%w: %w", errWire, err)
	}
	return to, region, m, nil
}
