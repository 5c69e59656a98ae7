package node

import (
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
)

// gossipCheck is what the consensus topics accept, relay and hand the
// core. Its rules, in the order they run:
//
//  1. The wire decodes and the kind belongs on the topic; else Reject.
//  2. The height is within [head, head+heightsAhead], head being the
//     committed height: a peer one height behind still needs the last
//     height's messages, and one ahead sends the next height's, which the
//     core keeps. Above: Ignore, for an honest peer may be ahead of this
//     node. Below: Ignore too, not Reject: a validator that fell behind
//     (restarted, partitioned) publishes the messages of its own height
//     until it has caught up, and scoring it out would keep it from
//     catching up; such a message costs this node a decode and is not
//     relayed, so an old replay buys an attacker nothing.
//  3. A body this node has accepted before (another attempt, or the same
//     vote on another topic) is accepted at once: no signature check, and
//     it is not handed to the core a second time (deliver).
//  4. The kind's rules:
//     - vote, timeout: the signature of the validator it names (through
//     the node's VerifyCache, so the core's own check of it is a hit);
//     a vote on a committee's subnet must be a member's (else Ignore: a
//     voter crossing an epoch may publish on its old subnet once).
//     - proposal: from the round's leader, with a proof of lock exactly
//     when it names a valid round and matching it, signed, its payload
//     bound to its block (bindBlock), its proof of lock a quorum
//     certificate; else Reject.
//     - aggregate: only with several committees, its signers all in one
//     committee, which has an aggregator (else Reject), and more signers
//     than any aggregate of that committee's votes for the same block
//     accepted before (else Ignore); then its signature (Reject). So a
//     vote dressed as a one-signer aggregate, or every subset of seen
//     votes, makes at most a committee's size of aggregates per block,
//     and the largest, the one the leader wants, always passes.
//     - certificate, timeout certificate: a quorum and its aggregate
//     signature (consensus.VerifyQC, VerifyTC), else Reject; once one is
//     accepted for a block (for a round), another made of other votes of
//     the same quorum is Ignored before any pairing: it certifies nothing
//     new, and the one accepted travels.
//
// Reject is what an honest node never relays (it runs these rules too),
// and penalises the peer that sent it in the gossip score; Ignore is what
// an honest node might relay.
//
// Rounds are not bounded here: nobody without a validator key can make a
// message of a new round, and for the ones validators signed, copies are
// bounded by the attempts and are free after the first (3.). The core
// keeps votes and timeouts only up to a few rounds ahead of its own, and
// a certificate of a later round moves it there, as it should.
//
// What it remembers is kept per height and dropped as heights commit;
// each height holds at most maxBodiesPerHeight bodies.
type gossipCheck struct {
	self   uint32
	tag    consensus.Hash
	vals   *consensus.ValidatorSet
	crypto consensus.Crypto
	// head returns the committed height; committees the committees of
	// the epoch of the height after it.
	head        func() uint64
	committees  func() *consensus.Committees
	epochLength uint64
	bound       *boundBlocks // the blocks of accepted proposals, for the driver
	m           *gossipMetrics

	mu    sync.Mutex
	books map[uint64]*heightBook
	low   uint64 // books below low are dropped
}

// heightsAhead is how far above the committed height gossip accepts
// messages: the height being decided and the next.
const heightsAhead = 2

// maxBodiesPerHeight bounds the bodies remembered for one height: far more
// than the messages of many rounds of a large set. A height that fills it
// stops remembering (later copies then cost a signature check each, through
// the VerifyCache, and may be stepped again, which the core tolerates).
const maxBodiesPerHeight = 1 << 16

// heightBook is what gossip has accepted at one height.
type heightBook struct {
	bodies map[bodyKey]*bodyEntry
	parts  map[partKey]int  // largest aggregate accepted, by signer count
	certs  map[certKey]bool // blocks with an accepted certificate
	tcs    map[uint64]bool  // rounds with an accepted timeout certificate
}

type bodyKey [32]byte

// wireKey is the key of a wire message's body (wireBody): the same for
// every attempt.
func wireKey(data []byte) bodyKey { return sha256.Sum256(wireBody(data)) }

type bodyEntry struct{ delivered bool }

type partKey struct {
	t         consensus.VoteType
	round     uint64
	block     consensus.Hash
	committee int
}

type certKey struct {
	t     consensus.VoteType
	round uint64
	block consensus.Hash
}

func newGossipCheck(self uint32, tag consensus.Hash, vals *consensus.ValidatorSet, crypto consensus.Crypto,
	head func() uint64, committees func() *consensus.Committees, epochLength uint64, bound *boundBlocks, m *gossipMetrics,
) *gossipCheck {
	return &gossipCheck{
		self: self, tag: tag, vals: vals, crypto: crypto, head: head, committees: committees,
		epochLength: max(epochLength, 1), bound: bound, m: m, books: map[uint64]*heightBook{},
	}
}

// Reasons a message is ignored or rejected, as metric labels.
const (
	reasonMalformed = "malformed"
	reasonTopic     = "topic"
	reasonBehind    = "behind"
	reasonAhead     = "ahead"
	reasonKnown     = "known"
	reasonSignature = "signature"
	reasonLeader    = "leader"
	reasonPOL       = "proof_of_lock"
	reasonBinding   = "binding"
	reasonEpoch     = "epoch"
	reasonSubnet    = "subnet"
	reasonCommittee = "committee"
	reasonCovered   = "covered"
	reasonCertified = "certified"
	reasonQuorum    = "quorum"
	reasonChecked   = "checked"
)

// validate is the topic validator: subnet is the committee whose vote
// subnet the message came on, -1 for a kind's topic.
func (c *gossipCheck) validate(topic string, subnet int, data []byte) p2p.Verdict {
	kind, v, reason := c.check(topic, subnet, data)
	c.m.check(kind, v, reason)
	return v
}

func (c *gossipCheck) check(topic string, subnet int, data []byte) (consensus.Kind, p2p.Verdict, string) {
	// What needs no decoding first: a copy of a known body costs a hash
	// and a lookup.
	if len(data) <= wireHeader || data[0] != wireVersion || data[1] > maxAttempt {
		return 0, p2p.Reject, reasonMalformed
	}
	kind := consensus.Kind(data[wireHeader])
	h, ok := wireHeight(data)
	switch {
	case topicOf(kind) == "" || !ok:
		return 0, p2p.Reject, reasonMalformed
	case topicOf(kind) != topic:
		return kind, p2p.Reject, reasonTopic
	}
	// Certificates and aggregates whose signers could not be one, at any
	// height: no honest node sends or relays them (it checks them too),
	// and telling costs no pairing.
	var m *consensus.Message
	if kind == consensus.KindQC || kind == consensus.KindTC || kind == consensus.KindAggregate {
		var err error
		if _, m, err = decodeWire(data); err != nil {
			return kind, p2p.Reject, reasonMalformed
		}
		if v, reason := c.shape(m); v != p2p.Accept {
			return kind, v, reason
		}
	}
	head := c.head()
	switch {
	case h < head:
		return kind, p2p.Ignore, reasonBehind
	case h > head+heightsAhead:
		return kind, p2p.Ignore, reasonAhead
	}
	key := wireKey(data)
	c.mu.Lock()
	_, known := c.book(h, head).bodies[key]
	c.mu.Unlock()
	if known && subnet < 0 {
		return kind, p2p.Accept, reasonKnown
	}
	if m == nil {
		var err error
		if _, m, err = decodeWire(data); err != nil {
			return kind, p2p.Reject, reasonMalformed
		}
	}
	if known { // a vote on a subnet: known, if it belongs there
		if v, reason := c.checkSubnet(h, subnet, m); v != p2p.Accept {
			return kind, v, reason
		}
		return kind, p2p.Accept, reasonKnown
	}
	v, reason := c.checkBody(h, subnet, m)
	if v == p2p.Accept {
		c.mu.Lock()
		if b := c.book(h, c.head()); b != nil && len(b.bodies) < maxBodiesPerHeight {
			if _, ok := b.bodies[key]; !ok {
				b.bodies[key] = &bodyEntry{}
			}
		}
		c.mu.Unlock()
	}
	return kind, v, reason
}

// checkSubnet: a vote on committee k's subnet must be a member's, by the
// committees of its height (Ignore when unknown or not a member: a voter
// crossing an epoch may publish on its old subnet once).
func (c *gossipCheck) checkSubnet(h uint64, subnet int, m *consensus.Message) (p2p.Verdict, string) {
	if subnet < 0 {
		return p2p.Accept, ""
	}
	cm := c.committeesAt(h)
	if cm == nil {
		return p2p.Ignore, reasonEpoch
	}
	if int(m.Vote.Validator) >= c.vals.Len() || cm.Count() < 2 || cm.Of(m.Vote.Validator) != subnet {
		return p2p.Ignore, reasonSubnet
	}
	return p2p.Accept, ""
}

// checkBody applies the rules of a message's kind (4. above).
func (c *gossipCheck) checkBody(h uint64, subnet int, m *consensus.Message) (p2p.Verdict, string) {
	switch m.Kind {
	case consensus.KindVote:
		if v, reason := c.checkSubnet(h, subnet, m); v != p2p.Accept {
			return v, reason
		}
		return c.signature(m)
	case consensus.KindTimeout:
		return c.signature(m)
	case consensus.KindProposal:
		return c.checkProposal(m)
	case consensus.KindAggregate:
		return c.checkAggregate(h, m)
	case consensus.KindQC:
		q := m.QC
		k := certKey{q.Type, q.Round, q.BlockID}
		if c.seen(h, func(b *heightBook) bool { return b.certs[k] }) {
			return p2p.Ignore, reasonCertified
		}
		if err := consensus.VerifyQC(c.tag, c.vals, c.crypto, q); err != nil {
			return p2p.Reject, quorumReason(err)
		}
		c.note(h, func(b *heightBook) { b.certs[k] = true })
		return p2p.Accept, reasonChecked
	case consensus.KindTC:
		t := m.TC
		if c.seen(h, func(b *heightBook) bool { return b.tcs[t.Round] }) {
			return p2p.Ignore, reasonCertified
		}
		if err := consensus.VerifyTC(c.tag, c.vals, c.crypto, t); err != nil {
			return p2p.Reject, quorumReason(err)
		}
		c.note(h, func(b *heightBook) { b.tcs[t.Round] = true })
		return p2p.Accept, reasonChecked
	}
	return p2p.Reject, reasonMalformed
}

// shape checks what the signers of a certificate or an aggregate must be,
// whatever the height: a certificate's hold a quorum of the stake, an
// aggregate's exist only with several committees.
func (c *gossipCheck) shape(m *consensus.Message) (p2p.Verdict, string) {
	var signers consensus.Bitmap
	switch {
	case m.QC != nil:
		signers = m.QC.Signers
	case m.TC != nil:
		signers = m.TC.Signers
	}
	if len(signers) != (c.vals.Len()+7)/8 || signers.Count() == 0 {
		return p2p.Reject, reasonQuorum
	}
	if m.Kind == consensus.KindAggregate {
		if cm := c.committees(); cm != nil && cm.Count() < 2 {
			return p2p.Reject, reasonCommittee
		}
		return p2p.Accept, ""
	}
	if !c.vals.IsQuorum(c.vals.StakeOf(signers)) {
		return p2p.Reject, reasonQuorum
	}
	return p2p.Accept, ""
}

func quorumReason(err error) string {
	if errors.Is(err, consensus.ErrNoQuorum) {
		return reasonQuorum
	}
	return reasonSignature
}

func (c *gossipCheck) signature(m *consensus.Message) (p2p.Verdict, string) {
	if consensus.CheckSignature(c.tag, c.vals, c.crypto, m) != nil {
		return p2p.Reject, reasonSignature
	}
	return p2p.Accept, reasonChecked
}

// checkProposal: the leader's, a proof of lock that fits, its signature,
// its payload bound to its block, and its proof of lock verified, cheapest
// first.
func (c *gossipCheck) checkProposal(m *consensus.Message) (p2p.Verdict, string) {
	p := m.Proposal
	if int(p.Proposer) >= c.vals.Len() || c.vals.Proposer(p.Height, p.Round) != p.Proposer {
		return p2p.Reject, reasonLeader
	}
	if consensus.POLFits(p) != nil {
		return p2p.Reject, reasonPOL
	}
	if v, reason := c.signature(m); v != p2p.Accept {
		return v, reason
	}
	blk, err := bindBlock(p.Payload, p.BlockID, p.Height)
	if err != nil {
		return p2p.Reject, reasonBinding
	}
	if p.POL != nil {
		if err := consensus.VerifyQC(c.tag, c.vals, c.crypto, p.POL); err != nil {
			return p2p.Reject, reasonPOL
		}
	}
	c.bound.add(p.BlockID, p.Payload, blk)
	return p2p.Accept, reasonChecked
}

// checkAggregate: several committees, signers of one committee that has
// an aggregator, more signers than any accepted aggregate of that
// committee for the block, and its signature. It sets the message's
// sender to the committee's aggregator, the one validator that sends one.
func (c *gossipCheck) checkAggregate(h uint64, m *consensus.Message) (p2p.Verdict, string) {
	q := m.QC
	cm := c.committeesAt(h)
	if cm == nil {
		return p2p.Ignore, reasonEpoch
	}
	k, ok := c.committeeOf(cm, q.Signers)
	if !ok {
		return p2p.Reject, reasonCommittee
	}
	agg, ok := cm.Aggregator(q.Height, q.Round, k)
	if !ok {
		return p2p.Reject, reasonCommittee
	}
	m.From = agg
	pk, n := partKey{q.Type, q.Round, q.BlockID, k}, q.Signers.Count()
	if c.seen(h, func(b *heightBook) bool { return b.parts[pk] >= n }) {
		return p2p.Ignore, reasonCovered
	}
	if v, reason := c.signature(m); v != p2p.Accept {
		return v, reason
	}
	c.note(h, func(b *heightBook) { b.parts[pk] = max(b.parts[pk], n) })
	return p2p.Accept, reasonChecked
}

// committeeOf returns the committee all of a bitmap's signers belong to:
// false when the bitmap does not fit the set, is empty, or spans
// committees, or when there is only one committee (and so no aggregates).
func (c *gossipCheck) committeeOf(cm *consensus.Committees, signers consensus.Bitmap) (int, bool) {
	if cm.Count() < 2 || len(signers) != (c.vals.Len()+7)/8 {
		return 0, false
	}
	members := signers.Members()
	if len(members) == 0 || int(members[len(members)-1]) >= c.vals.Len() {
		return 0, false
	}
	k := cm.Of(members[0])
	for _, id := range members[1:] {
		if cm.Of(id) != k {
			return 0, false
		}
	}
	return k, true
}

// committeesAt returns the committees of height h's epoch when it is the
// epoch of the height being decided, nil otherwise (the next epoch's seed
// is the last block of this one, not yet committed). The head is read on
// both sides of the committees, so that an epoch change in between is
// noticed.
func (c *gossipCheck) committeesAt(h uint64) *consensus.Committees {
	before := c.head()
	cm := c.committees()
	after := c.head()
	epoch := (before + 1) / c.epochLength
	if cm == nil || (after+1)/c.epochLength != epoch || h/c.epochLength != epoch {
		return nil
	}
	return cm
}

// seen runs test on height h's book under the lock.
func (c *gossipCheck) seen(h uint64, test func(*heightBook) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.book(h, c.head())
	return b != nil && test(b)
}

// note records in height h's book under the lock.
func (c *gossipCheck) note(h uint64, record func(*heightBook)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.book(h, c.head()); b != nil {
		record(b)
	}
}

// book returns height h's book, made when missing, after dropping those
// below head; nil for a height outside the window. Called with mu held.
func (c *gossipCheck) book(h, head uint64) *heightBook {
	if head > c.low {
		for k := range c.books {
			if k < head {
				delete(c.books, k)
			}
		}
		c.low = head
	}
	if h < c.low || h > c.low+heightsAhead {
		return nil
	}
	b := c.books[h]
	if b == nil {
		b = &heightBook{bodies: map[bodyKey]*bodyEntry{}, parts: map[partKey]int{}, certs: map[certKey]bool{}, tcs: map[uint64]bool{}}
		c.books[h] = b
	}
	return b
}

// deliver returns the message of an accepted wire message that the core
// should step: nil for a body already handed to it (or sent by this node),
// for a height already committed, and for an aggregate whose committee
// this node no longer knows.
func (c *gossipCheck) deliver(data []byte) *consensus.Message {
	h, ok := wireHeight(data)
	if !ok || h <= c.head() {
		return nil
	}
	key := wireKey(data)
	c.mu.Lock()
	first := true
	if b := c.book(h, c.head()); b != nil {
		e := b.bodies[key]
		switch {
		case e == nil && len(b.bodies) < maxBodiesPerHeight:
			b.bodies[key] = &bodyEntry{delivered: true}
		case e != nil && e.delivered:
			first = false
		case e != nil:
			e.delivered = true
		}
	}
	c.mu.Unlock()
	if !first {
		c.m.Duplicates.Inc()
		return nil
	}
	_, m, err := decodeWire(data)
	if err != nil {
		return nil
	}
	if m.Kind == consensus.KindAggregate {
		cm := c.committeesAt(h)
		if cm == nil {
			return nil
		}
		k, ok := c.committeeOf(cm, m.QC.Signers)
		if !ok {
			return nil
		}
		if m.From, ok = cm.Aggregator(m.QC.Height, m.QC.Round, k); !ok {
			return nil
		}
	}
	return m
}

// sent records a body this node publishes, key being its wireKey: copies
// of it that come back are accepted without a check and never stepped.
func (c *gossipCheck) sent(data []byte, key bodyKey) {
	h, ok := wireHeight(data)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.book(h, c.head()); b != nil && len(b.bodies) < maxBodiesPerHeight {
		b.bodies[key] = &bodyEntry{delivered: true}
	}
}
