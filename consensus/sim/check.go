package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/bizra/node0/consensus"
)

// The checker sees every signature a validator makes: the simulator's
// signing scheme reports each message it signs. From them it checks, as
// they happen, the properties that commits alone would show late or never:
//
//   - an honest validator never signs two different blocks for one height,
//     round and message type, even across restarts (double-sign);
//   - every proposal or vote an honest validator signs is recorded in the
//     State it persists before its next messages leave (unpersisted);
//   - an honest validator prevotes only a block the round's leader
//     proposed, and when it is locked on another block, only with a proof
//     of lock at least as recent as its lock; precommits only a block more
//     than two thirds of the stake prevoted in the round; and commits only
//     a block more than two thirds precommitted in one round (unjustified):
//     a broken lock rule, or a certificate that is forged, short of a
//     quorum or misread, shows here even when no fork follows;
//   - at one height, the State an honest validator persists never goes
//     back: its round and lock round never decrease, and its signed records
//     only grow (regressed).
//
// With the commit checks in the driver (fork, log), they make the
// simulator's safety verdict.

// Kinds of signed messages, numbered as the core numbers the records of
// State.Signed (their durable encoding, EncodeState, fixes the numbers).
const (
	signedProposal  uint8 = 1
	signedPrevote   uint8 = 2
	signedPrecommit uint8 = 3
)

var signedNames = map[uint8]string{signedProposal: "proposal", signedPrevote: "prevote", signedPrecommit: "precommit"}

type sigKey struct {
	height, round uint64
	kind          uint8
}

type signature struct {
	key   sigKey
	block consensus.Hash
}

type signedID struct {
	key   sigKey
	block consensus.Hash
}

type checker struct {
	s       *simulation
	count   int
	signers map[signedID]consensus.Bitmap
	// validRound is the highest valid round of the proposals of a block
	// by the round's leader (NoRound: only without a proof of lock).
	validRound       map[signedID]uint64
	voteLen, propLen int
}

func newChecker(s *simulation) checker {
	return checker{
		s: s, signers: map[signedID]consensus.Bitmap{}, validRound: map[signedID]uint64{},
		voteLen: len(consensus.VoteSignBytes(chainTag, consensus.Prevote, 0, 0, consensus.Hash{})),
		propLen: len(consensus.ProposalSignBytes(chainTag, 0, 0, consensus.Hash{}, 0)),
	}
}

// parse recognises the sign bytes of a proposal or a vote (by encoding
// what it reads back and comparing); timeouts and anything else are not
// recorded.
func (k *checker) parse(msg []byte) (sig signature, validRound uint64, ok bool) {
	u64 := func(end int) uint64 { return binary.BigEndian.Uint64(msg[end-8 : end]) }
	var block consensus.Hash
	switch len(msg) {
	case k.voteLen:
		copy(block[:], msg[len(msg)-32:])
		t := consensus.VoteType(msg[len(msg)-49])
		h, r := u64(len(msg)-40), u64(len(msg)-32)
		if !bytes.Equal(msg, consensus.VoteSignBytes(chainTag, t, h, r, block)) {
			return signature{}, 0, false
		}
		kind := signedPrevote
		if t == consensus.Precommit {
			kind = signedPrecommit
		} else if t != consensus.Prevote {
			return signature{}, 0, false
		}
		return signature{sigKey{h, r, kind}, block}, 0, true
	case k.propLen:
		copy(block[:], msg[len(msg)-40:len(msg)-8])
		h, r, vr := u64(len(msg)-48), u64(len(msg)-40), u64(len(msg))
		if !bytes.Equal(msg, consensus.ProposalSignBytes(chainTag, h, r, block, vr)) {
			return signature{}, 0, false
		}
		return signature{sigKey{h, r, signedProposal}, block}, vr, true
	}
	return signature{}, 0, false
}

func (k *checker) quorum(id signedID) bool {
	bm := k.signers[id]
	return bm != nil && k.s.vals.IsQuorum(k.s.vals.StakeOf(bm))
}

// signed sees validator n sign msg.
func (k *checker) signed(n *node, msg []byte) {
	sig, vr, ok := k.parse(msg)
	if !ok {
		return
	}
	k.count++
	id := signedID(sig)
	if sig.key.kind == signedProposal && int(k.s.vals.Proposer(sig.key.height, sig.key.round)) == n.idx {
		if prev, ok := k.validRound[id]; !ok || prev == consensus.NoRound || (vr != consensus.NoRound && vr > prev) {
			k.validRound[id] = vr
		}
	}
	bm := k.signers[id]
	if bm == nil {
		bm = consensus.NewBitmap(k.s.vals.Len())
		k.signers[id] = bm
	}
	bm.Set(uint32(n.idx))
	if n.fault != Honest {
		return
	}
	what := fmt.Sprintf("%s %d/%d", signedNames[sig.key.kind], sig.key.height, sig.key.round)
	if prev, ok := n.signed[sig.key]; ok && prev != sig.block {
		k.s.fail("double-sign", n.idx, sig.key.height, fmt.Sprintf("v%d signed a second %s: %x, after %x", n.idx, what, sig.block[:6], prev[:6]))
		return
	}
	n.signed[sig.key] = sig.block
	n.pending = append(n.pending, sig)
	h, r := sig.key.height, sig.key.round
	switch sig.key.kind {
	case signedPrevote:
		leader := k.s.vals.Proposer(h, r)
		if bm := k.signers[signedID{sigKey{h, r, signedProposal}, sig.block}]; bm == nil || !bm.Has(leader) {
			k.s.fail("unjustified", n.idx, h, fmt.Sprintf("v%d signed a %s for %x, which the round's leader v%d did not propose", n.idx, what, sig.block[:6], leader))
			return
		}
		// The lock rule, with the lock of the last persisted State: a
		// lock changes only after the prevote of its round.
		if st := n.persisted; st != nil && st.Height == h && st.LockedRound != consensus.NoRound && st.LockedBlock != sig.block {
			vr := k.validRound[signedID{sigKey{h, r, signedProposal}, sig.block}]
			if vr == consensus.NoRound || vr < st.LockedRound || vr >= r || !k.quorum(signedID{sigKey{h, vr, signedPrevote}, sig.block}) {
				k.s.fail("unjustified", n.idx, h, fmt.Sprintf("v%d, locked on %x since round %d, signed a %s for %x without a proof of lock from round %d or later", n.idx, st.LockedBlock[:6], st.LockedRound, what, sig.block[:6], st.LockedRound))
			}
		}
	case signedPrecommit:
		if !k.quorum(signedID{sigKey{h, r, signedPrevote}, sig.block}) {
			k.s.fail("unjustified", n.idx, h, fmt.Sprintf("v%d signed a %s for %x without a quorum of prevotes for it", n.idx, what, sig.block[:6]))
		}
	}
}

// committed checks an honest commit against the precommits signed.
func (k *checker) committed(n *node, height uint64, qc *consensus.QC) {
	if !k.quorum(signedID{sigKey{height, qc.Round, signedPrecommit}, qc.BlockID}) {
		k.s.fail("unjustified", n.idx, height, fmt.Sprintf("v%d committed %x on a certificate of round %d without a quorum of precommits for it", n.idx, qc.BlockID[:6], qc.Round))
	}
}

// regressed checks a State about to replace the last persisted one.
func (k *checker) regressed(n *node, st *consensus.State) {
	prev := n.persisted
	if n.fault != Honest || prev == nil || prev.Height != st.Height {
		return
	}
	lock := func(r uint64) int64 { return int64(r) } // NoRound is -1
	switch {
	case st.Round < prev.Round:
		k.s.fail("regressed", n.idx, st.Height, fmt.Sprintf("v%d persisted round %d after round %d", n.idx, st.Round, prev.Round))
	case lock(st.LockedRound) < lock(prev.LockedRound):
		k.s.fail("regressed", n.idx, st.Height, fmt.Sprintf("v%d persisted lock round %d after lock round %d", n.idx, lock(st.LockedRound), prev.LockedRound))
	case len(st.Signed) < len(prev.Signed):
		k.s.fail("regressed", n.idx, st.Height, fmt.Sprintf("v%d persisted %d signed records after %d", n.idx, len(st.Signed), len(prev.Signed)))
	default:
		for i, rec := range prev.Signed {
			if st.Signed[i] != rec {
				k.s.fail("regressed", n.idx, st.Height, fmt.Sprintf("v%d persisted signed records that drop or change record %d", n.idx, i))
				return
			}
		}
	}
}

// persisted checks, when a driver is about to send a message, that the
// State it persisted records every proposal and vote the validator signed
// since the last check, or is already at a later height, or that the
// validator's chain has committed the height (the core never returns to
// a decided height).
func (k *checker) persisted(n *node) {
	if n.fault != Honest {
		n.pending = nil
		return
	}
	st := n.persisted
	for _, sig := range n.pending {
		// A height the State has moved past, or that the chain has
		// committed, is one the core never returns to: what it signed
		// there cannot be signed again.
		if (st != nil && st.Height > sig.key.height) || n.height() > sig.key.height {
			continue
		}
		found := false
		if st != nil && st.Height == sig.key.height {
			for _, rec := range st.Signed {
				if rec.Kind == sig.key.kind && rec.Round == sig.key.round && rec.BlockID == sig.block {
					found = true
					break
				}
			}
		}
		if !found {
			k.s.fail("unpersisted", n.idx, sig.key.height, fmt.Sprintf("v%d is about to send its %s %d/%d for %x, which its persisted State does not record", n.idx, signedNames[sig.key.kind], sig.key.height, sig.key.round, sig.block[:6]))
			return
		}
	}
	n.pending = n.pending[:0]
}
