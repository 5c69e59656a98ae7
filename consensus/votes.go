package consensus

import (
	"cmp"
	"fmt"
	"maps"
	"math/bits"
	"slices"
)

// voteSet gathers the votes of one type for one block in one round, for a
// validator that aggregates a committee's votes, leads the round, or both.
// Signatures are checked optimistically: many at once through their
// aggregate, and in smaller groups only when an aggregate fails.
type voteSet struct {
	key     voteKey
	pending map[uint32][]byte // single votes received, not yet checked
	good    map[uint32][]byte // checked
	bad     map[uint32]bool   // failed a check; ignored from now on
	firstAt uint64            // tick of the first vote, for the aggregation delay
	sent    int               // good votes in the last aggregate forwarded
	parts   map[int]*QC       // leader: the largest checked aggregate of each committee
	waiting map[int]*QC       // leader: the largest unchecked aggregate of each committee
	badAggr map[int]bool      // leader: committees whose aggregator sent a bad aggregate
	formed  bool
}

func (c *Core) set(key voteKey) *voteSet {
	vs := c.collect[key]
	if vs == nil {
		vs = &voteSet{
			key: key, pending: map[uint32][]byte{}, good: map[uint32][]byte{}, bad: map[uint32]bool{},
			parts: map[int]*QC{}, waiting: map[int]*QC{}, badAggr: map[int]bool{},
		}
		c.collect[key] = vs
	}
	return vs
}

// maxRoundsAhead bounds how far beyond the current round votes are kept.
const maxRoundsAhead = 8

// collectVote takes a vote as its committee's aggregator, as the round's
// leader, or both.
func (c *Core) collectVote(v *Vote) error {
	if v.Type != Prevote && v.Type != Precommit {
		return ErrDecode
	}
	if int(v.Validator) >= c.vals.Len() {
		return ErrNotValidator
	}
	if v.Round > c.st.Round+maxRoundsAhead {
		return nil
	}
	committee := c.comms.Of(v.Validator)
	agg, hasAgg := c.comms.Aggregator(v.Height, v.Round, committee)
	aggregating := hasAgg && agg == c.cfg.Self
	leading := c.vals.Proposer(v.Height, v.Round) == c.cfg.Self
	if !aggregating && !leading {
		return nil
	}
	vs := c.set(voteKey{v.Type, v.Round, v.BlockID})
	if _, ok := vs.good[v.Validator]; ok || vs.bad[v.Validator] {
		return nil
	}
	if _, ok := vs.pending[v.Validator]; ok {
		return nil
	}
	vs.pending[v.Validator] = v.Sig
	if vs.firstAt == 0 {
		vs.firstAt = c.now + 1 // never zero
	}
	if aggregating {
		if c.committeeDone(vs, committee) {
			c.forward(vs, committee)
		}
		return nil
	}
	c.tryForm(vs)
	return nil
}

// committeeDone reports whether every member of the committee has voted
// for this block.
func (c *Core) committeeDone(vs *voteSet, k int) bool {
	for _, m := range c.comms.Members(k) {
		_, p := vs.pending[m]
		_, g := vs.good[m]
		if !p && !g && !vs.bad[m] {
			return false
		}
	}
	return true
}

// unit is one signature waiting for a check: a single vote, or a
// committee's aggregate (a part) at the leader. Units checked together
// never share a signer, so that the aggregate of their signatures is
// checked against the union of their signers.
type unit struct {
	voter uint32 // a vote's validator
	part  *QC    // a committee aggregate, or nil for a vote
	k     int    // the part's committee
}

func (u unit) sig(vs *voteSet) []byte {
	if u.part != nil {
		return u.part.Sig
	}
	return vs.pending[u.voter]
}

// check verifies units optimistically: the aggregate of all their
// signatures with one pairing, and when it fails, halves of them, down to
// single units, which are dropped. Good votes move to good and good parts
// to parts; bad votes move to bad, and a bad part marks its committee's
// aggregator as faulty for this vote set (only the aggregator sends parts).
//
// Signatures add up: when the first half of a failed group passes, the
// second half fails without being checked, so one bad unit among n costs
// about log2(n) checks after the first.
func (c *Core) check(vs *voteSet, units []unit) {
	if len(units) == 0 {
		return
	}
	msg := VoteSignBytes(c.cfg.ChainTag, vs.key.t, c.st.Height, vs.key.round, vs.key.block)
	var walk func(us []unit, failed bool) bool
	walk = func(us []unit, failed bool) bool {
		if !failed && c.verifyUnits(vs, us, msg) {
			for _, u := range us {
				c.accept(vs, u)
			}
			return true
		}
		if len(us) == 1 {
			c.reject(vs, us[0])
			return false
		}
		half := len(us) / 2
		walk(us[half:], walk(us[:half], false))
		return false
	}
	walk(units, false)
}

// verifyUnits checks the aggregate of the units' signatures.
func (c *Core) verifyUnits(vs *voteSet, us []unit, msg []byte) bool {
	if len(us) == 1 && us[0].part == nil {
		return c.cfg.Crypto.Verify(us[0].voter, msg, us[0].sig(vs))
	}
	if len(us) == 1 {
		return c.cfg.Crypto.VerifyAggregate(us[0].part.Signers, msg, us[0].part.Sig)
	}
	signers := NewBitmap(c.vals.Len())
	sigs := make([][]byte, len(us))
	for i, u := range us {
		if u.part != nil {
			signers.Or(u.part.Signers)
		} else {
			signers.Set(u.voter)
		}
		sigs[i] = u.sig(vs)
	}
	agg, err := c.cfg.Crypto.Aggregate(sigs)
	return err == nil && c.cfg.Crypto.VerifyAggregate(signers, msg, agg)
}

func (c *Core) accept(vs *voteSet, u unit) {
	if u.part == nil {
		vs.good[u.voter] = vs.pending[u.voter]
		delete(vs.pending, u.voter)
		return
	}
	if vs.waiting[u.k] == u.part {
		delete(vs.waiting, u.k)
	}
	if prev := vs.parts[u.k]; prev == nil || prev.Signers.Count() < u.part.Signers.Count() {
		vs.parts[u.k] = u.part
	}
}

func (c *Core) reject(vs *voteSet, u unit) {
	c.stats.BadSignatures++
	if u.part == nil {
		vs.bad[u.voter] = true
		delete(vs.pending, u.voter)
		c.log.Debug("bad vote signature", "validator", u.voter, "type", vs.key.t, "round", vs.key.round)
		return
	}
	vs.badAggr[u.k] = true
	delete(vs.waiting, u.k)
	c.log.Debug("bad aggregate signature", "committee", u.k, "type", vs.key.t, "round", vs.key.round)
}

// forward sends the committee's aggregate of checked votes to the leader.
func (c *Core) forward(vs *voteSet, k int) {
	var units []unit
	for _, m := range c.comms.Members(k) {
		if _, ok := vs.pending[m]; ok {
			units = append(units, unit{voter: m})
		}
	}
	c.check(vs, units)
	part := c.aggregate(vs, k)
	if part == nil || part.Signers.Count() == vs.sent {
		return
	}
	vs.sent = part.Signers.Count()
	leader := c.vals.Proposer(c.st.Height, vs.key.round)
	if leader == c.cfg.Self {
		c.mergePart(vs, k, part)
		return
	}
	c.send([]uint32{leader}, &Message{Kind: KindAggregate, QC: part})
}

// aggregate combines the checked votes of committee k into one aggregate.
func (c *Core) aggregate(vs *voteSet, k int) *QC {
	bm := NewBitmap(c.vals.Len())
	var sigs [][]byte
	for _, m := range c.comms.Members(k) {
		if sig, ok := vs.good[m]; ok {
			bm.Set(m)
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	sig, err := c.cfg.Crypto.Aggregate(sigs)
	if err != nil {
		return nil
	}
	return &QC{Type: vs.key.t, Height: c.st.Height, Round: vs.key.round, BlockID: vs.key.block, Signers: bm, Sig: sig}
}

// tickAggregators forwards what aggregators have gathered once the
// aggregation delay has passed.
func (c *Core) tickAggregators() {
	mine := c.comms.Of(c.cfg.Self)
	height := c.st.Height
	for _, key := range sortedKeys(c.collect) {
		vs := c.collect[key]
		if c.st.Height != height {
			return // a certificate committed the height; its votes are gone
		}
		if vs == nil || vs.firstAt == 0 || c.now < vs.firstAt+c.cfg.AggregateTicks || len(vs.pending) == 0 {
			continue
		}
		if agg, ok := c.comms.Aggregator(c.st.Height, key.round, mine); ok && agg == c.cfg.Self {
			c.forward(vs, mine)
		}
		if c.vals.Proposer(c.st.Height, key.round) == c.cfg.Self {
			c.tryForm(vs) // direct votes that did not reach a quorum alone
		}
	}
}

// stepAggregate takes a committee aggregate as the round's leader. Its
// signature is checked later, with the other waiting parts and votes, once
// they could form a quorum together (see tryForm).
func (c *Core) stepAggregate(m *Message) error {
	part := m.QC
	c.stats.AggregatesReceived++
	if c.vals.Proposer(part.Height, part.Round) != c.cfg.Self || part.Round > c.st.Round+maxRoundsAhead {
		return nil
	}
	members := part.Signers.Members()
	if len(part.Signers) != (c.vals.Len()+7)/8 || len(members) == 0 || int(members[len(members)-1]) >= c.vals.Len() {
		return fmt.Errorf("%w: aggregate with a bad signer set", ErrDecode)
	}
	k := c.comms.Of(members[0])
	for _, id := range members {
		if c.comms.Of(id) != k {
			return fmt.Errorf("%w: aggregate spans committees", ErrDecode)
		}
	}
	// Only the committee's aggregator sends its aggregate, so a bad one
	// marks the aggregator, and nobody else can crowd out its parts.
	if agg, ok := c.comms.Aggregator(part.Height, part.Round, k); !ok || agg != m.From {
		return fmt.Errorf("%w: aggregate of committee %d not from its aggregator", ErrNotValidator, k)
	}
	vs := c.set(voteKey{part.Type, part.Round, part.BlockID})
	if vs.formed || vs.badAggr[k] {
		return nil
	}
	for _, prev := range []*QC{vs.parts[k], vs.waiting[k]} {
		if prev != nil && prev.Signers.Count() >= len(members) {
			return nil
		}
	}
	vs.waiting[k] = part
	c.tryForm(vs)
	return nil
}

// mergePart adds this validator's own committee aggregate, made of
// checked votes, when it leads the round.
func (c *Core) mergePart(vs *voteSet, k int, part *QC) {
	if prev := vs.parts[k]; prev == nil || prev.Signers.Count() < part.Signers.Count() {
		vs.parts[k] = part
	}
	c.tryForm(vs)
}

// tryForm forms a quorum certificate once committee aggregates and direct
// votes hold more than two thirds of the stake, and broadcasts it. Waiting
// parts and votes are checked only when, with the checked ones, they could
// reach a quorum; then all of them at once (see check).
func (c *Core) tryForm(vs *voteSet) {
	for !vs.formed {
		bm, sigs := c.combine(vs)
		if !c.vals.IsQuorum(c.stakeOf(bm)) {
			units, reach := c.candidates(vs, bm)
			if len(units) == 0 || !c.vals.IsQuorum(reach) {
				return
			}
			c.check(vs, units) // moves every unit out of waiting and pending
			continue
		}
		sig, err := c.cfg.Crypto.Aggregate(sigs)
		if err != nil {
			return
		}
		vs.formed = true
		c.stats.CertsFormed++
		qc := &QC{Type: vs.key.t, Height: c.st.Height, Round: vs.key.round, BlockID: vs.key.block, Signers: bm, Sig: sig}
		c.log.Debug("certificate", "type", qc.Type, "height", qc.Height, "round", qc.Round, "signers", bm.Count())
		c.broadcastQC(qc)
	}
}

// candidates lists the unchecked units that add signers to the checked
// ones in bm, none sharing a signer: the waiting part of each committee,
// then pending votes of validators that neither covers. It also returns
// the stake all of them would reach together.
func (c *Core) candidates(vs *voteSet, bm Bitmap) ([]unit, uint64) {
	var units []unit
	cover := bm.Clone()
	for _, k := range slices.Sorted(maps.Keys(vs.waiting)) {
		p := vs.waiting[k]
		if adds(cover, p.Signers) {
			units = append(units, unit{part: p, k: k})
			cover.Or(p.Signers)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(vs.pending)) {
		if !cover.Has(id) {
			units = append(units, unit{voter: id})
			cover.Set(id)
		}
	}
	return units, c.stakeOf(cover)
}

// adds reports whether o has a member that b lacks.
func adds(b, o Bitmap) bool {
	for i, x := range o {
		if i >= len(b) || x&^b[i] != 0 {
			return true
		}
	}
	return false
}

// stakeOf is ValidatorSet.StakeOf without building the member list: the
// leader computes it for every part it receives.
func (c *Core) stakeOf(b Bitmap) uint64 {
	var st uint64
	for i, x := range b {
		for x != 0 {
			if id := uint32(i*8 + bits.TrailingZeros8(x)); int(id) < c.vals.Len() {
				st += c.vals.Get(id).Stake
			}
			x &= x - 1
		}
	}
	return st
}

// combine joins the checked committee aggregates and the checked direct
// votes of validators no aggregate covers.
func (c *Core) combine(vs *voteSet) (Bitmap, [][]byte) {
	bm := NewBitmap(c.vals.Len())
	var sigs [][]byte
	for _, k := range slices.Sorted(maps.Keys(vs.parts)) {
		p := vs.parts[k]
		if bm.Overlaps(p.Signers) {
			continue
		}
		bm.Or(p.Signers)
		sigs = append(sigs, p.Sig)
	}
	for _, id := range slices.Sorted(maps.Keys(vs.good)) {
		if !bm.Has(id) {
			bm.Set(id)
			sigs = append(sigs, vs.good[id])
		}
	}
	return bm, sigs
}

// sortedKeys returns map keys in a fixed order, so that the core behaves
// the same on every run.
func sortedKeys[V any](m map[voteKey]V) []voteKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b voteKey) int {
		if d := cmp.Compare(a.round, b.round); d != 0 {
			return d
		}
		if d := cmp.Compare(a.t, b.t); d != 0 {
			return d
		}
		return slices.Compare(a.block[:], b.block[:])
	})
	return keys
}
