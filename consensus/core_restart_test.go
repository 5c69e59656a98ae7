package consensus_test

import (
	"fmt"
	"testing"

	"github.com/bizra/node0/consensus"
)

// restartScript is what the rest of the network does while the validator
// under test runs, over three heights: a block certified in round 0 but
// not committed, re-proposed with its proof of lock in round 1, a rival
// block without one in round 2 that nonetheless gets a prevote
// certificate there and commits; then a height decided in round 0, and a
// third begun. The validator's messages go nowhere: the others' messages
// are scripted. Rounds the validator leads are left to it.
func restartScript(r *rig, n *tnode) {
	self := n.self
	propose := func(h, round uint64, payload []byte, pol *consensus.QC) {
		if r.set.Proposer(h, round) != self {
			_ = n.step(r.proposal(h, round, payload, pol))
		}
	}
	commit := func(h uint64, payload []byte, qc *consensus.QC) {
		_ = n.step(qcMsg(qc, 2))
		if !n.dead && n.core.Height() == h {
			if err := n.core.StepCommitted(payload, qc); err == nil {
				n.drain()
			}
		}
	}
	p0, b0 := r.block()
	propose(0, 0, p0, nil)
	_ = n.step(qcMsg(r.pqc(0, 0, b0), 0))
	n.tick(3)
	_ = n.step(r.tcMsg(0, 0))
	propose(0, 1, p0, r.pqc(0, 0, b0))
	n.tick(3)
	_ = n.step(r.tcMsg(0, 1))
	p2, b2 := r.block()
	propose(0, 2, p2, nil)
	_ = n.step(qcMsg(r.pqc(0, 2, b2), 0))
	n.tick(6)
	commit(0, p2, r.cqc(0, 2, b2))

	p3, b3 := r.block()
	propose(1, 0, p3, nil)
	_ = n.step(qcMsg(r.pqc(1, 0, b3), 0))
	commit(1, p3, r.cqc(1, 0, b3))

	p4, _ := r.block()
	propose(2, 0, p4, nil)
	n.tick(3)
}

// attack tries to make a restarted validator sign something else: at its
// height, for every round up to two past its own, a new block from the
// round's leader with a prevote certificate, then a timeout certificate.
// If it leads a round, the test driver answers its proposal request with a
// new block too.
func attack(r *rig, n *tnode) {
	h, top := n.core.Height(), n.core.Round()+2
	for round := uint64(0); round <= top; round++ {
		p, b := r.block()
		if r.set.Proposer(h, round) != n.self {
			_ = n.step(r.proposal(h, round, p, nil))
		}
		_ = n.step(qcMsg(r.pqc(h, round, b), 0))
		n.tick(2)
		if round >= n.core.Round() && n.core.Height() == h {
			_ = n.step(r.tcMsg(h, round))
		}
	}
}

// TestCoreRestart crashes the validator after each Ready of the script in
// turn (its State persisted, the rest of that Ready lost: messages unsent,
// commits not applied), restarts it from its chain and its persisted
// State, and attacks it: it must sign nothing that conflicts with what it
// signed before the crash. The same crash with the State forgotten
// (amnesia) must let the attack through, or the test proves nothing.
func TestCoreRestart(t *testing.T) {
	for _, self := range []uint32{1, 3, 0} { // leads nothing early; leads round 1; leads rounds 0, 2 and 3
		t.Run(fmt.Sprint("validator ", self), func(t *testing.T) {
			// A run without a crash counts the Readies.
			r := newRig(t)
			n := r.node(self)
			restartScript(r, n)
			total := n.readies
			if n.applied != 2 || len(n.conflicts) > 0 {
				t.Fatalf("the script without a crash: %d commits, conflicts %v", n.applied, n.conflicts)
			}
			amnesiaCaught := 0
			for _, amnesia := range []bool{false, true} {
				for at := 1; at <= total; at++ {
					r := newRig(t)
					n := r.crashingNode(self, at)
					n.expectConflicts = amnesia
					restartScript(r, n)
					if !n.dead {
						t.Fatalf("crash point %d of %d not reached", at, total)
					}
					n.restart(amnesia)
					attack(r, n)
					if len(n.conflicts) > 0 {
						if !amnesia {
							t.Fatalf("crash after ready %d: %v", at, n.conflicts)
						}
						amnesiaCaught++
					}
				}
			}
			if amnesiaCaught == 0 {
				t.Fatalf("no crash point with amnesia led to a double signature: the attack is toothless")
			}
			t.Logf("%d crash points; with amnesia, %d of them double-signed", total, amnesiaCaught)
		})
	}
}

// TestCoreRestartBeforeApplyingCommit is the crash between persisting a
// Ready that commits a block and applying the block: the State is of the
// next height, the chain still ends before the committed one. The
// validator signed at that height and the record is gone with the height's
// State, so it must not sign there again; once it has the committed block
// it carries on.
func TestCoreRestartBeforeApplyingCommit(t *testing.T) {
	r := newRig(t)
	n := r.node(0) // leads round 0 of heights 0 and 1
	var pa []byte
	for _, env := range n.take() {
		if env.Msg.Kind == consensus.KindProposal {
			pa = env.Msg.Proposal.Payload
		}
	}
	a := n.signed[sigKey{0, 0, "proposal"}]
	n.mustStep(qcMsg(r.pqc(0, 0, a), 1)) // it precommits, to itself
	cqc := r.cqc(0, 0, a)
	n.crashAt = n.readies + 1
	n.mustStep(qcMsg(cqc, 1))
	if !n.dead || n.applied != 0 || n.persisted.Height != 1 {
		t.Fatalf("crash: dead %v, applied %d, persisted height %d; want a crash with the State of height 1 and nothing applied", n.dead, n.applied, n.persisted.Height)
	}
	n.restart(false)
	if n.core.Height() != 0 {
		t.Fatalf("restarted at height %d, want 0 (the chain's)", n.core.Height())
	}
	attack(r, n) // fails the test on a double signature
	if n.core.Height() != 0 {
		t.Fatalf("height %d after the attack, want 0", n.core.Height())
	}
	// The committed block arrives: height 1 as usual, where it leads
	// round 0 again and proposes.
	n.take()
	if err := n.core.StepCommitted(pa, cqc); err != nil {
		t.Fatal(err)
	}
	n.drain()
	if n.applied != 1 || n.core.Height() != 1 {
		t.Fatalf("applied %d, height %d after the committed block, want 1 and 1", n.applied, n.core.Height())
	}
	if _, ok := n.signed[sigKey{1, 0, "proposal"}]; !ok {
		t.Fatal("no proposal at height 1 after catching up")
	}
}
