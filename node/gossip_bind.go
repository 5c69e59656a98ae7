package node

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// bindBlock decodes a proposal's payload and checks that it is the block
// the proposal names: decodeBound, its header hashes to id, it is for
// height, and it carries no certificate (which is outside the hash).
func bindBlock(payload []byte, id consensus.Hash, height uint64) (*chain.Block, error) {
	// The header first, one hash: a copy with another header dies before
	// anything is copied.
	if len(payload) < chain.HeaderSize || chain.Keccak256(payload[:chain.HeaderSize]) != id {
		return nil, fmt.Errorf("%w: payload header is not the proposed block %s", errBinding, id)
	}
	blk, err := decodeBound(payload)
	if err != nil {
		return nil, err
	}
	switch {
	case blk.Hash() != id:
		return nil, fmt.Errorf("%w: payload hash %s is not the proposed block %s", errBinding, blk.Hash(), id)
	case blk.Header.Height != height:
		return nil, fmt.Errorf("%w: block height %d in a proposal for %d", errBinding, blk.Header.Height, height)
	case len(blk.Cert) != 0:
		return nil, fmt.Errorf("%w: proposed block carries a certificate", errBinding)
	}
	return blk, nil
}

// decodeBound decodes a block and checks that its transactions are the
// ones its header's transaction root commits to, so that the block's hash
// (the header's) binds the whole encoding but the certificate: otherwise
// junk transactions under a genuine header would pass for its block until
// they were executed. It parses no transaction and recovers no sender:
// the cost is one copy of the payload (chain.DecodeBlock) and one hash per
// transaction and per Merkle node.
func decodeBound(payload []byte) (*chain.Block, error) {
	blk, err := chain.DecodeBlock(payload)
	if err != nil {
		return nil, err
	}
	if chain.MerkleRoot(blk.TxHashes()) != blk.Header.TxRoot {
		return nil, fmt.Errorf("%w: transactions do not match the header's root", errBinding)
	}
	return blk, nil
}

var errBinding = errors.New("node: proposal payload is not its block")

// boundBlocks remembers the blocks of the proposals gossip accepted, bound
// to their payloads, so that the driver's own check of the same payload
// (driverChain.Decode, which must bind it too before a proposal counts
// against a round's budget) costs a comparison of bytes instead of a hash
// per transaction again. It holds at most boundBlocksBudget bytes, the
// oldest dropped first; nil remembers nothing.
type boundBlocks struct {
	mu    sync.Mutex
	byID  map[consensus.Hash]*boundBlock
	order []consensus.Hash
	bytes int
}

type boundBlock struct {
	payload []byte
	blk     *chain.Block
}

// boundBlocksBudget bounds the bytes remembered: the payload and its
// decoded copy, for a few heights' proposals.
const boundBlocksBudget = 64 << 20

func newBoundBlocks() *boundBlocks { return &boundBlocks{byID: map[consensus.Hash]*boundBlock{}} }

// add remembers blk, bound to payload (which the caller no longer
// changes), as block id.
func (b *boundBlocks) add(id consensus.Hash, payload []byte, blk *chain.Block) {
	if b == nil || 2*len(payload) > boundBlocksBudget/4 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.byID[id]; ok {
		return
	}
	for b.bytes+2*len(payload) > boundBlocksBudget && len(b.order) > 0 {
		old := b.order[0]
		b.order = b.order[1:]
		b.bytes -= 2 * len(b.byID[old].payload)
		delete(b.byID, old)
	}
	b.byID[id] = &boundBlock{payload: payload, blk: blk}
	b.order = append(b.order, id)
	b.bytes += 2 * len(payload)
}

// decode is decodeBound, answered from memory for a payload gossip bound:
// the same bytes as a remembered block's (found by the hash of the header
// they start with) decode to that block. The block returned is the
// caller's: a copy sharing only the transactions, which nothing changes.
func (b *boundBlocks) decode(payload []byte) (*chain.Block, error) {
	if b != nil && len(payload) >= chain.HeaderSize {
		id := chain.Keccak256(payload[:chain.HeaderSize])
		b.mu.Lock()
		e := b.byID[id]
		b.mu.Unlock()
		if e != nil && bytes.Equal(e.payload, payload) {
			blk := *e.blk
			return &blk, nil
		}
	}
	return decodeBound(payload)
}
