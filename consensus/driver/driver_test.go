package driver

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// The driver's unit tests run it over small doubles of its world; the
// simulator (consensus/sim) runs it over many validators and faults.

// testCrypto signs as any validator: signature i of m is keccak(i || m),
// an aggregate the XOR of its members'.
type testCrypto struct{ self uint32 }

func testSig(i uint32, msg []byte) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], i)
	return chain.Keccak256(b[:], msg).Bytes()
}

func (c testCrypto) Sign(msg []byte) []byte { return testSig(c.self, msg) }
func (c testCrypto) Verify(i uint32, msg, sig []byte) bool {
	return subtle.ConstantTimeCompare(testSig(i, msg), sig) == 1
}
func (c testCrypto) Aggregate(sigs [][]byte) ([]byte, error) {
	out := make([]byte, 32)
	for _, s := range sigs {
		if len(s) != 32 {
			return nil, errors.New("bad signature")
		}
		for i := range out {
			out[i] ^= s[i]
		}
	}
	return out, nil
}
func (c testCrypto) VerifyAggregate(signers consensus.Bitmap, msg, sig []byte) bool {
	var want [][]byte
	for _, i := range signers.Members() {
		want = append(want, testSig(i, msg))
	}
	agg, err := c.Aggregate(want)
	return err == nil && len(want) > 0 && bytes.Equal(agg, sig)
}

// A test block's payload: height u64, round u64, proposer address, then
// one flag byte (1: carries a certificate) and a nonce.
type testBlock struct {
	h       Header
	payload []byte
}

func (b *testBlock) ID() consensus.Hash { return chain.Keccak256(b.payload) }
func (b *testBlock) Header() Header     { return b.h }
func (b *testBlock) Payload() []byte    { return b.payload }

func encodeTestBlock(h Header, nonce byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Height)
	b = binary.BigEndian.AppendUint64(b, h.Round)
	b = binary.BigEndian.AppendUint64(b, h.Timestamp)
	b = append(b, h.Proposer[:]...)
	flag := byte(0)
	if h.Certified {
		flag = 1
	}
	return append(b, flag, nonce)
}

func decodeTestBlock(p []byte) (*testBlock, error) {
	if len(p) != 24+20+2 {
		return nil, errors.New("bad test block")
	}
	h := Header{Height: binary.BigEndian.Uint64(p), Round: binary.BigEndian.Uint64(p[8:]), Timestamp: binary.BigEndian.Uint64(p[16:]), Certified: p[44] == 1}
	copy(h.Proposer[:], p[24:44])
	return &testBlock{h: h, payload: p}, nil
}

// testChain is a log of committed blocks; it counts executions.
type testChain struct {
	self     chain.Address
	log      []*testBlock
	certs    [][]byte
	executed int
	nonce    byte
	bad      map[consensus.Hash]bool // blocks that do not execute
}

func (c *testChain) Head() (uint64, uint64) {
	if len(c.log) == 0 {
		return 1, 1000
	}
	return uint64(len(c.log)) + 1, c.log[len(c.log)-1].h.Timestamp
}

func (c *testChain) Committed(h uint64) (consensus.Hash, []byte, error) {
	if h == 0 || h > uint64(len(c.log)) {
		return consensus.Hash{}, nil, chain.ErrNotFound
	}
	return c.log[h-1].ID(), c.certs[h-1], nil
}

func (c *testChain) Decode(p []byte) (Block, error) { return decodeTestBlock(p) }

func (c *testChain) Build(round, ts uint64) Block {
	next, parent := c.Head()
	c.nonce++
	b, _ := decodeTestBlock(encodeTestBlock(Header{Height: next, Round: round, Proposer: c.self, Timestamp: max(ts, parent+1)}, c.nonce))
	return b
}

func (c *testChain) Execute(b Block, notAfter uint64) (Block, error) {
	c.executed++
	next, _ := c.Head()
	if c.bad[b.ID()] {
		return nil, fmt.Errorf("block %s does not apply", b.ID())
	}
	if b.Header().Height != next || b.Header().Timestamp > notAfter {
		return nil, fmt.Errorf("block %d at %d does not execute on %d", b.Header().Height, b.Header().Timestamp, next)
	}
	return b, nil
}

func (c *testChain) Commit(b Block, qc *consensus.QC) error {
	c.log = append(c.log, b.(*testBlock))
	c.certs = append(c.certs, consensus.EncodeQC(qc))
	return nil
}

// event is a store write or a send, in the order the driver made them.
type event struct {
	write *consensus.State // a state write
	sent  *consensus.Message
}

// testWorld is a store and a transport that record what the driver does.
type testWorld struct {
	kv     map[string][]byte
	events []event
	fetch  []uint64
}

func (w *testWorld) Aux(key []byte) ([]byte, error) {
	v, ok := w.kv[string(key)]
	if !ok {
		return nil, chain.ErrNotFound
	}
	return v, nil
}

func (w *testWorld) WriteAux(ws ...chain.AuxWrite) error {
	for _, x := range ws {
		switch {
		case x.Delete:
			for _, k := range slices.Collect(maps.Keys(w.kv)) {
				if k >= string(x.Key) && k < string(x.End) {
					delete(w.kv, k)
				}
			}
		default:
			w.kv[string(x.Key)] = bytes.Clone(x.Value)
			if bytes.Equal(x.Key, keyState) {
				st, err := consensus.DecodeState(x.Value)
				if err != nil {
					return err
				}
				w.events = append(w.events, event{write: st})
			}
		}
	}
	return nil
}

func (w *testWorld) Send(_ []uint32, m *consensus.Message) {
	w.events = append(w.events, event{sent: m})
}
func (w *testWorld) RequestBlock(h uint64, _ uint32) { w.fetch = append(w.fetch, h) }

// sentKinds lists the messages sent, by kind and vote type.
func (w *testWorld) sent(k consensus.Kind, t consensus.VoteType) []*consensus.Message {
	var out []*consensus.Message
	for _, e := range w.events {
		if m := e.sent; m != nil && m.Kind == k && (m.Vote == nil || m.Vote.Type == t) {
			out = append(out, m)
		}
	}
	return out
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// fixture is validator self of four equal validators, driven over the
// doubles.
type fixture struct {
	t     testing.TB
	vals  *consensus.ValidatorSet
	addrs []chain.Address
	chain *testChain
	world *testWorld
	clock *fixedClock
	cfg   Config
	d     *Driver
}

var chainTag = chain.Keccak256([]byte("driver test chain"))

func newFixture(t testing.TB, self uint32) *fixture {
	t.Helper()
	var vs []consensus.Validator
	var addrs []chain.Address
	for i := range 4 {
		vs = append(vs, consensus.Validator{Name: fmt.Sprint("v", i), PubKey: []byte{byte(i)}, Stake: 100})
		var a chain.Address
		a[19] = byte(i + 1)
		addrs = append(addrs, a)
	}
	vals, err := consensus.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, vals: vals, addrs: addrs, chain: &testChain{self: addrs[self]},
		world: &testWorld{kv: map[string][]byte{}}, clock: &fixedClock{t: time.UnixMilli(1_000_000)}}
	f.cfg = Config{
		Core:       consensus.Config{ChainTag: chainTag, Validators: vals, Self: self, Crypto: testCrypto{self}, Committees: 1, EpochLength: 100},
		Recipients: addrs, BlockInterval: 100 * time.Millisecond,
	}
	f.cfg.SetDefaults()
	f.start()
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	d, err := New(f.cfg, f.chain, f.world, f.world, f.clock)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.d = d
}

// leader finds the leader of height h, round r.
func (f *fixture) leader(h, r uint64) uint32 { return f.vals.Proposer(h, r) }

// proposal is the round leader's signed proposal of a block built as
// mutate leaves its header.
func (f *fixture) proposal(h, r uint64, nonce byte, mutate func(*Header)) *consensus.Message {
	l := f.leader(h, r)
	hd := Header{Height: h, Round: r, Proposer: f.addrs[l], Timestamp: uint64(f.clock.t.UnixMilli())}
	if mutate != nil {
		mutate(&hd)
	}
	payload := encodeTestBlock(hd, nonce)
	id := chain.Keccak256(payload)
	p := &consensus.Proposal{Height: h, Round: r, BlockID: id, Payload: payload, ValidRound: consensus.NoRound, Proposer: l}
	p.Sig = testSig(l, consensus.ProposalSignBytes(chainTag, h, r, id, consensus.NoRound))
	return &consensus.Message{Kind: consensus.KindProposal, From: l, Proposal: p}
}

// commitQC is a precommit certificate of validators 0, 1 and 2 for block.
func (f *fixture) commitQC(h, r uint64, block consensus.Hash) *consensus.QC {
	bm := consensus.NewBitmap(4)
	var sigs [][]byte
	for _, i := range []uint32{0, 1, 2} {
		bm.Set(i)
		sigs = append(sigs, testSig(i, consensus.VoteSignBytes(chainTag, consensus.Precommit, h, r, block)))
	}
	sig, _ := testCrypto{}.Aggregate(sigs)
	return &consensus.QC{Type: consensus.Precommit, Height: h, Round: r, BlockID: block, Signers: bm, Sig: sig}
}

// nonLeader is a validator that leads neither round 0 of height 1 nor of
// height 2, so that its driver only votes there.
func nonLeader(t testing.TB) uint32 {
	f := newFixture(t, 0)
	for v := range uint32(4) {
		if f.leader(1, 0) != v && f.leader(2, 0) != v {
			return v
		}
	}
	t.Fatal("every validator leads height 1 or 2")
	return 0
}

func TestPersistBeforeSend(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	if err := f.d.Step(f.proposal(1, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	votes := f.world.sent(consensus.KindVote, consensus.Prevote)
	if len(votes) != 1 {
		t.Fatalf("prevotes sent: %d, want 1", len(votes))
	}
	// The state recording the prevote is written before the prevote
	// leaves.
	for _, e := range f.world.events {
		if e.sent != nil && e.sent.Kind == consensus.KindVote {
			t.Fatal("the prevote was sent before any state recording it was written")
		}
		if st := e.write; st != nil && st.Height == 1 && len(st.Signed) > 0 {
			break
		}
	}
	if f.d.Status().Step != "prevote" {
		t.Fatalf("status step %q, want prevote", f.d.Status().Step)
	}
}

func TestHeldProposalSteppedAfterCommit(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	p1 := f.proposal(1, 0, 1, nil)
	p2 := f.proposal(2, 0, 2, func(h *Header) { h.Timestamp++ })
	// The next height's proposal first: held, not voted.
	if err := f.d.Step(p2); err != nil {
		t.Fatal(err)
	}
	if n := len(f.world.sent(consensus.KindVote, consensus.Prevote)); n != 0 {
		t.Fatalf("%d prevotes for a height not reached", n)
	}
	if err := f.d.Step(p1); err != nil {
		t.Fatal(err)
	}
	qc := f.commitQC(1, 0, p1.Proposal.BlockID)
	if err := f.d.Step(&consensus.Message{Kind: consensus.KindQC, From: f.leader(1, 0), QC: qc}); err != nil {
		t.Fatal(err)
	}
	if len(f.chain.log) != 1 || f.d.Height() != 2 {
		t.Fatalf("log %d blocks, deciding %d; want height 1 committed", len(f.chain.log), f.d.Height())
	}
	var heights []uint64
	for _, v := range f.world.sent(consensus.KindVote, consensus.Prevote) {
		heights = append(heights, v.Vote.Height)
	}
	if !slices.Equal(heights, []uint64{1, 2}) {
		t.Fatalf("prevotes for heights %v, want [1 2]: the held proposal is stepped once height 1 is committed", heights)
	}
}

func TestProposalChecks(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Header)
	}{
		{"fee recipient not the leader's", func(h *Header) { h.Proposer[0] ^= 1 }},
		{"carries a certificate", func(h *Header) { h.Certified = true }},
		{"another height", func(h *Header) { h.Height = 7 }},
		{"built for another round", func(h *Header) { h.Round = 3 }},
		{"timestamp beyond the clock drift", func(h *Header) { h.Timestamp += uint64(DefaultMaxClockDrift.Milliseconds()) + 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nonLeader(t))
			if err := f.d.Step(f.proposal(1, 0, 1, c.mutate)); err != nil {
				t.Fatal(err)
			}
			if n := len(f.world.sent(consensus.KindVote, consensus.Prevote)); n != 0 {
				t.Fatalf("prevoted a bad proposal (%d prevotes)", n)
			}
		})
	}
}

func TestProposalsExecutedPerRoundAreBounded(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	for nonce := range byte(5) {
		if err := f.d.Step(f.proposal(1, 0, nonce+1, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if f.chain.executed != DefaultMaxProposalsPerRound {
		t.Fatalf("executed %d proposed blocks of one round, want %d", f.chain.executed, DefaultMaxProposalsPerRound)
	}
	// The first is the one prevoted.
	if v := f.world.sent(consensus.KindVote, consensus.Prevote); len(v) != 1 {
		t.Fatalf("%d prevotes, want 1", len(v))
	}
}

func TestRestartResumesLock(t *testing.T) {
	self := nonLeader(t)
	f := newFixture(t, self)
	p := f.proposal(1, 0, 1, nil)
	if err := f.d.Step(p); err != nil {
		t.Fatal(err)
	}
	// A prevote certificate: lock and precommit.
	bm := consensus.NewBitmap(4)
	var sigs [][]byte
	for _, i := range []uint32{0, 1, 2, 3} {
		bm.Set(i)
		sigs = append(sigs, testSig(i, consensus.VoteSignBytes(chainTag, consensus.Prevote, 1, 0, p.Proposal.BlockID)))
	}
	sig, _ := testCrypto{}.Aggregate(sigs)
	qc := &consensus.QC{Type: consensus.Prevote, Height: 1, Round: 0, BlockID: p.Proposal.BlockID, Signers: bm, Sig: sig}
	if err := f.d.Step(&consensus.Message{Kind: consensus.KindQC, From: f.leader(1, 0), QC: qc}); err != nil {
		t.Fatal(err)
	}
	if st := f.d.Status(); st.LockedRound != 0 {
		t.Fatalf("locked round %d, want 0", st.LockedRound)
	}
	// A new driver on the same store resumes the lock, with its payload.
	f.world.events = nil
	f.start()
	if st := f.d.Status(); st.Height != 1 {
		t.Fatalf("resumed at height %d", st.Height)
	}
	raw, err := f.world.Aux(keyState)
	if err != nil {
		t.Fatal(err)
	}
	st, err := consensus.DecodeState(raw)
	if err != nil || st.LockedRound != 0 || st.LockedBlock != p.Proposal.BlockID {
		t.Fatalf("persisted state %+v, %v", st, err)
	}
	if _, err := f.world.Aux(payloadKey(1, p.Proposal.BlockID)); err != nil {
		t.Fatalf("locked block's payload not stored: %v", err)
	}
	// Losing the payload makes the state unusable: refuse to start.
	delete(f.world.kv, string(payloadKey(1, p.Proposal.BlockID)))
	if _, err := New(f.cfg, f.chain, f.world, f.world, f.clock); !errors.Is(err, ErrUnsafeState) {
		t.Fatalf("New without the locked payload: %v", err)
	}
}

func TestRefusesStateAheadOfChain(t *testing.T) {
	f := newFixture(t, 0)
	st := &consensus.State{Height: 9, LockedRound: consensus.NoRound, ValidRound: consensus.NoRound}
	f.world.kv[string(keyState)] = consensus.EncodeState(st)
	if _, err := New(f.cfg, f.chain, f.world, f.world, f.clock); !errors.Is(err, ErrUnsafeState) {
		t.Fatalf("New with a state ahead of the chain: %v", err)
	}
}

func TestLeaderProposesInItsSlot(t *testing.T) {
	f := newFixture(t, 0)
	l := f.leader(1, 0)
	f = newFixture(t, l)
	_, parent := f.chain.Head()
	slot := time.UnixMilli(int64(parent)).Add(f.cfg.BlockInterval)
	if got := f.d.Wake(); !got.Equal(slot) && got.After(slot) {
		t.Fatalf("wakes at %v, after its slot %v", got, slot)
	}
	f.clock.t = slot.Add(-time.Millisecond)
	if err := f.d.Tick(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.world.sent(consensus.KindProposal, 0)); n != 0 {
		t.Fatal("proposed before its slot")
	}
	f.clock.t = slot.Add(30 * time.Millisecond)
	if err := f.d.Tick(); err != nil {
		t.Fatal(err)
	}
	props := f.world.sent(consensus.KindProposal, 0)
	if len(props) != 1 {
		t.Fatalf("%d proposals once the slot passed", len(props))
	}
	b, _ := decodeTestBlock(props[0].Proposal.Payload)
	if b.h.Timestamp != uint64(slot.UnixMilli()) {
		t.Fatalf("block time %d, want its slot %d (less than an interval late)", b.h.Timestamp, slot.UnixMilli())
	}
}

func TestFutureProposalFetchesTheMissedBlock(t *testing.T) {
	f := newFixture(t, nonLeader(t))
	p2 := f.proposal(2, 0, 2, nil)
	for range 3 {
		if err := f.d.Step(p2); err != nil {
			t.Fatal(err)
		}
	}
	// Its proposer has committed height 1: fetch it, once per timeout.
	if !slices.Equal(f.world.fetch, []uint64{1}) {
		t.Fatalf("fetches %v, want [1]", f.world.fetch)
	}
	f.clock.t = f.clock.t.Add(time.Duration(f.cfg.Core.TimeoutTicks) * f.cfg.Tick)
	if err := f.d.Step(p2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.world.fetch, []uint64{1, 1}) {
		t.Fatalf("fetches %v after a timeout, want [1 1]", f.world.fetch)
	}
}
