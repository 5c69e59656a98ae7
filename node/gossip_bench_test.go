package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
)

// BenchmarkGossipVote is the gossip validator's work for one vote: a vote
// not seen before (decode, the pairing through the VerifyCache, the
// books), and a copy of a known one (another attempt: a hash and a
// lookup, no decode and no pairing).
func BenchmarkGossipVote(b *testing.B) {
	r := newGossipRig(b, 4, 1)
	block := chain.Keccak256([]byte("block"))
	b.Run("first", func(b *testing.B) {
		data := encodeWire(0, r.vote(1, consensus.Prevote, 11, 0, block))
		for b.Loop() {
			// Forget it: every check a miss (the BLS scheme still has the
			// signature decoded, as it would for a vote it aggregates).
			r.check.crypto = consensus.NewVerifyCache(r.bls, 16)
			r.check.books = map[uint64]*heightBook{}
			if r.check.validate(topicVotes, -1, data) != p2p.Accept {
				b.Fatal("not accepted")
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		v := r.vote(1, consensus.Prevote, 11, 0, block)
		r.check.validate(topicVotes, -1, encodeWire(0, v))
		again := encodeWire(1, v)
		for b.Loop() {
			if r.check.validate(topicVotes, -1, again) != p2p.Accept {
				b.Fatal("not accepted")
			}
		}
	})
}

// benchBlock is a block of n transfer-sized transactions (110 bytes).
func benchBlock(h uint64, n int) *chain.Block {
	txs := make([][]byte, n)
	for i := range txs {
		tx := make([]byte, 110)
		binary.BigEndian.PutUint64(tx, uint64(i))
		txs[i] = tx
	}
	return block(h, txs...)
}

// BenchmarkBindBlock is the first-hop binding check of a proposal's
// payload (decodeBound: one copy, a hash per transaction and per Merkle
// node; no transaction parsed, no sender recovered), against decoding
// alone.
func BenchmarkBindBlock(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		blk := benchBlock(11, n)
		payload, id := blk.Encode(), blk.Hash()
		b.Run(fmt.Sprintf("decode/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := chain.DecodeBlock(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("bind/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := bindBlock(payload, id, 11); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGossipProposal is the gossip validator's work for a proposal of
// a 5,000-transaction block whose signature is already known (the decode,
// the binding check and the books), and for a copy of it.
func BenchmarkGossipProposal(b *testing.B) {
	r := newGossipRig(b, 4, 1)
	p := r.proposal(0, benchBlock(11, 5000), nil, consensus.NoRound, nil)
	first, again := encodeWire(0, p), encodeWire(1, p)
	b.Run("first", func(b *testing.B) {
		b.SetBytes(int64(len(first)))
		for b.Loop() {
			r.check.books = map[uint64]*heightBook{}
			if r.check.validate(topicProposals, -1, first) != p2p.Accept {
				b.Fatal("not accepted")
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(again)))
		for b.Loop() {
			if r.check.validate(topicProposals, -1, again) != p2p.Accept {
				b.Fatal("not accepted")
			}
		}
	})
}

// BenchmarkEngineDecode is the consensus engine's binding of a proposal's
// payload (driverChain.Decode) for a 5,000-transaction block: answered
// from the blocks gossip bound (a header hash and a comparison of bytes),
// and without them.
func BenchmarkEngineDecode(b *testing.B) {
	blk := benchBlock(11, 5000)
	payload := blk.Encode()
	mem := newBoundBlocks()
	bound, err := bindBlock(payload, blk.Hash(), 11)
	if err != nil {
		b.Fatal(err)
	}
	mem.add(blk.Hash(), bytes.Clone(payload), bound) // gossip's own copy
	for _, c := range []struct {
		name string
		mem  *boundBlocks
	}{{"bound by gossip", mem}, {"not bound", nil}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.mem.decode(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
