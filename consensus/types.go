package consensus

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/bizra/node0/chain"
)

// Hash identifies a block: the chain block hash of its payload.
type Hash = chain.Hash

// VoteType is the phase a vote belongs to.
type VoteType uint8

// The two voting phases of a round.
const (
	Prevote   VoteType = 1
	Precommit VoteType = 2
)

func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("vote(%d)", uint8(t))
}

// Bitmap is a set of validator indexes.
type Bitmap []byte

// NewBitmap returns an empty set for n validators.
func NewBitmap(n int) Bitmap { return make(Bitmap, (n+7)/8) }

// Has reports whether i is in the set.
func (b Bitmap) Has(i uint32) bool { return int(i/8) < len(b) && b[i/8]&(1<<(i%8)) != 0 }

// Set adds i.
func (b Bitmap) Set(i uint32) { b[i/8] |= 1 << (i % 8) }

// Count returns the number of members.
func (b Bitmap) Count() int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

// Overlaps reports whether the sets share a member.
func (b Bitmap) Overlaps(o Bitmap) bool {
	for i := range min(len(b), len(o)) {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// Or adds the members of o.
func (b Bitmap) Or(o Bitmap) {
	for i := range min(len(b), len(o)) {
		b[i] |= o[i]
	}
}

// Clone copies the set.
func (b Bitmap) Clone() Bitmap { return append(Bitmap(nil), b...) }

// Members lists the indexes in the set, ascending.
func (b Bitmap) Members() []uint32 {
	var out []uint32
	for i, x := range b {
		for x != 0 {
			j := bits.TrailingZeros8(x)
			out = append(out, uint32(i*8+j))
			x &= x - 1
		}
	}
	return out
}

// Proposal is a leader's block for a round. ValidRound is the round of the
// prevote certificate POL that lets validators locked on another block vote
// for this one; it is NoRound with no POL.
type Proposal struct {
	Height     uint64
	Round      uint64
	BlockID    Hash
	Payload    []byte // opaque to the core: the chain block encoding
	ValidRound uint64
	POL        *QC
	Proposer   uint32
	Sig        []byte
}

// NoRound marks a missing round.
const NoRound = ^uint64(0)

// Vote is one validator's prevote or precommit for a block.
type Vote struct {
	Type      VoteType
	Height    uint64
	Round     uint64
	BlockID   Hash
	Validator uint32
	Sig       []byte
}

// QC is an aggregate of votes of one type for one block: a committee's
// aggregate on its way to the leader, or, with more than two thirds of the
// stake, a quorum certificate. A precommit quorum certificate is the commit
// certificate stored with a block.
type QC struct {
	Type    VoteType
	Height  uint64
	Round   uint64
	BlockID Hash
	Signers Bitmap
	Sig     []byte
}

// Timeout is one validator's signal that a round failed. It signs only the
// height and round, so that a timeout certificate is a same-message
// aggregate checked with one pairing.
type Timeout struct {
	Height    uint64
	Round     uint64
	Validator uint32
	Sig       []byte
}

// TC is a timeout certificate: timeouts of more than two thirds of the
// stake for one round.
type TC struct {
	Height  uint64
	Round   uint64
	Signers Bitmap
	Sig     []byte
}

// Kind tells the message types apart on the wire.
type Kind uint8

// Message kinds.
const (
	KindProposal Kind = iota + 1
	KindVote
	KindAggregate // a committee aggregate, sent to the leader
	KindQC        // a quorum certificate, broadcast
	KindTimeout
	KindTC
)

// Message is what cores exchange. Exactly one body field is set, the one
// Kind names.
type Message struct {
	Kind     Kind
	From     uint32
	Proposal *Proposal
	Vote     *Vote
	QC       *QC // KindAggregate and KindQC
	Timeout  *Timeout
	TC       *TC
}

// Height returns the height the message is about.
func (m *Message) Height() uint64 {
	switch {
	case m.Proposal != nil:
		return m.Proposal.Height
	case m.Vote != nil:
		return m.Vote.Height
	case m.QC != nil:
		return m.QC.Height
	case m.Timeout != nil:
		return m.Timeout.Height
	case m.TC != nil:
		return m.TC.Height
	}
	return 0
}

// Sign bytes. Every signed message starts with a domain tag and the chain
// tag (the genesis hash), so that no signature is valid for another kind
// of message or another chain.
var (
	domainProposal = []byte("bizra/consensus/proposal/v1")
	domainVote     = []byte("bizra/consensus/vote/v1")
	domainTimeout  = []byte("bizra/consensus/timeout/v1")
)

// VoteSignBytes is what a vote of this type for this block signs; all
// votes of a QC sign the same bytes.
func VoteSignBytes(chainTag Hash, t VoteType, height, round uint64, block Hash) []byte {
	b := make([]byte, 0, len(domainVote)+32+1+16+32)
	b = append(b, domainVote...)
	b = append(b, chainTag[:]...)
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint64(b, height)
	b = binary.BigEndian.AppendUint64(b, round)
	return append(b, block[:]...)
}

// ProposalSignBytes is what a proposer signs.
func ProposalSignBytes(chainTag Hash, height, round uint64, block Hash, validRound uint64) []byte {
	b := make([]byte, 0, len(domainProposal)+32+24+32)
	b = append(b, domainProposal...)
	b = append(b, chainTag[:]...)
	b = binary.BigEndian.AppendUint64(b, height)
	b = binary.BigEndian.AppendUint64(b, round)
	b = append(b, block[:]...)
	return binary.BigEndian.AppendUint64(b, validRound)
}

// TimeoutSignBytes is what a timeout signs.
func TimeoutSignBytes(chainTag Hash, height, round uint64) []byte {
	b := make([]byte, 0, len(domainTimeout)+32+16)
	b = append(b, domainTimeout...)
	b = append(b, chainTag[:]...)
	b = binary.BigEndian.AppendUint64(b, height)
	return binary.BigEndian.AppendUint64(b, round)
}

// Step is where a validator is within a round.
type Step uint8

// Steps of a round.
const (
	StepPropose Step = iota
	StepPrevote
	StepPrecommit
)

// signed records a message this validator has signed at the current height,
// so that it never signs a conflicting one, even after a restart.
type signed struct {
	Kind    uint8 // 1 proposal, 2 prevote, 3 precommit
	Round   uint64
	BlockID Hash
}

const (
	signedProposal  uint8 = 1
	signedPrevote   uint8 = 2
	signedPrecommit uint8 = 3
)

// State is the part of a core that must be durable before any message the
// core asks to send leaves the node: where it is, what it is locked on, and
// what it has signed at this height.
type State struct {
	Height        uint64
	Round         uint64
	Step          Step
	LockedRound   uint64 // NoRound when not locked
	LockedBlock   Hash
	LockedPayload []byte
	ValidRound    uint64 // NoRound when none
	ValidBlock    Hash
	ValidPayload  []byte
	ValidQC       *QC
	Signed        []signed
}

// Start is where a core begins: the height after the last committed block,
// and the seed of the current epoch's committees. A restarted validator
// passes the State it last persisted.
type Start struct {
	Height    uint64 // first height to decide
	EpochSeed Hash
	State     *State // nil for a validator with no persisted state
}

// Envelope is a message to send. An empty To means every other validator.
type Envelope struct {
	To  []uint32
	Msg *Message
}

// Commit is a decided block.
type Commit struct {
	Height  uint64
	BlockID Hash
	Payload []byte
	QC      *QC // the precommit quorum certificate
}

// ProposalRequest asks the driver for a block to propose: it must call
// Propose with a payload for this height and round.
type ProposalRequest struct {
	Height uint64
	Round  uint64
}

// Fetch asks the driver for the committed block at Height, with its
// certificate, from validator From (who has shown it is ahead); the driver
// delivers it with StepCommitted.
type Fetch struct {
	Height uint64
	From   uint32
}

// Ready is what the core asks of its driver. The driver does, in order:
// apply Commits (durably), persist State if set (synced), send Messages,
// answer ProposalRequest and Fetches, then call Advance. Commits come
// first because State may already be the next height's: were it durable
// before the block it follows, a crash between the two would restart the
// validator at the committed height with no record of what it signed there.
type Ready struct {
	State           *State
	Messages        []Envelope
	Commits         []Commit
	ProposalRequest *ProposalRequest
	Fetches         []Fetch
}

// IsEmpty reports whether there is nothing to do.
func (r *Ready) IsEmpty() bool {
	return r.State == nil && len(r.Messages) == 0 && len(r.Commits) == 0 && r.ProposalRequest == nil && len(r.Fetches) == 0
}

// Stats counts what a core has done and received since it was built, for
// metrics. Counters only grow.
type Stats struct {
	Rounds             uint64 // rounds entered, first rounds of heights included
	Timeouts           uint64 // timeouts this validator broadcast
	TimeoutCerts       uint64 // timeout certificates that moved it on
	CertsFormed        uint64 // quorum certificates it formed as leader
	Commits            uint64
	VotesReceived      uint64 // single votes stepped
	AggregatesReceived uint64 // committee aggregates stepped
	BadSignatures      uint64 // votes, aggregates, proposals and certificates that failed a check
}

// Stats returns the counters.
func (c *Core) Stats() Stats { return c.stats }
