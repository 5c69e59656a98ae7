package mempool

import (
	"testing"
	"time"
)

// admissionPool returns a pool over a real chain with n funded senders,
// and its door for 1 s blocks of at most maxBlock transactions.
func admissionPool(t *testing.T, n, maxBlock int, cfg Config) (*testChain, *Pool, *Admission, *fakeNow) {
	t.Helper()
	keys := make([]*KeyT, n)
	for i := range keys {
		keys[i] = key(t, i)
	}
	tc := newTestChain(t, keys, oneEther)
	now := &fakeNow{t: time.Unix(1_800_000_000, 0)}
	p := newPool(t, tc, cfg, now)
	return tc, p, NewAdmission(p, time.Second, maxBlock, now.Now, nil), now
}

// feeder hands the door a run of blocks, each committed latency after its
// timestamp on the door's clock.
type feeder struct {
	a   *Admission
	now *fakeNow
	ts  uint64 // the last block's timestamp, unix ms
}

// blocks commits count blocks of txs transactions each, interval ms apart,
// decided in round 0, each latency ms after its timestamp.
func (f *feeder) blocks(count, txs int, interval, latency uint64) {
	for range count {
		f.ts += interval
		f.commit(txs, 0, latency)
	}
}

func (f *feeder) commit(txs int, round, latency uint64) {
	f.now.mu.Lock()
	f.now.t = time.UnixMilli(int64(f.ts + latency))
	f.now.mu.Unlock()
	f.a.Committed(txs, f.ts, round)
}

func TestAdmissionCapacityFollowsTheChain(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBlockTxs = 100
	_, _, a, now := admissionPool(t, 1, 20_000, cfg)
	if got := a.Capacity(); got != 2_000 {
		t.Fatalf("initial capacity %d, want 2000 (a second's worth at 2,000 tx/s)", got)
	}
	f := &feeder{a: a, now: now, ts: 1_800_000_000_000}
	f.commit(0, 0, 100) // the first block only sets the clocks
	want := func(what string, c int) {
		t.Helper()
		if got := a.Capacity(); got != c {
			t.Fatalf("%s: capacity %d, want %d", what, got, c)
		}
	}
	// Full blocks committed well within the block time after their slot:
	// demand at the bound and room for it; 10 % more a block.
	f.blocks(1, 2_000, 1000, 200)
	want("after a full block committed early", 2_200)
	// Committed late in the slot: a tenth off.
	f.blocks(1, 2_200, 1000, 900)
	want("after a full block committed near its successor's slot", 1_980)
	// Committed in the middle of the slot: neither.
	f.blocks(1, 1_980, 1000, 700)
	want("after a full block committed mid-slot", 1_980)
	// Blocks well below the capacity change nothing, however they commit.
	f.blocks(3, 500, 1000, 100)
	f.blocks(1, 900, 1000, 1500)
	want("after light blocks", 1_980)
	// Committed after the next slot: the chain took more than it could
	// check in time; a quarter off, every time.
	f.blocks(1, 1_980, 1000, 1200)
	want("after a full block committed past the next slot", 1_485)
	// A leader down: the block comes in round 1, seconds late, and commits
	// promptly: not load.
	f.ts += 5000
	f.commit(1_000, 1, 100)
	want("after a round-1 block", 1_485)
	// Catching up: blocks committed far faster than the block time, long
	// after their slots, change nothing.
	f.blocks(5, 1_485, 100, 20_000)
	want("after catch-up blocks", 1_485)
	// The bounds hold.
	f.blocks(60, 20_000, 1000, 100)
	want("after many full blocks", 20_000)
	f.blocks(60, 20_000, 1000, 1500)
	want("after many late blocks", 100)
	if got := a.Limit(); got != 100 {
		t.Fatalf("limit %d at admit_blocks 1, want the capacity", got)
	}
}

func TestAdmissionReplay(t *testing.T) {
	_, _, a, _ := admissionPool(t, 1, 20_000, DefaultConfig())
	ts := uint64(1_800_000_000_000)
	a.Replay(0, ts, 0)
	for _, b := range []struct {
		txs           int
		interval, rnd uint64
		want          int
	}{
		{2_000, 1000, 0, 2_200}, // full and on time: grows
		{2_200, 1400, 0, 1_650}, // full and late: a quarter off
		{1_650, 1000, 1, 1_238}, // a later round counts as late
		{100, 5000, 0, 1_238},   // late but nearly empty: a fault, not load
		{1_238, 100, 0, 1_238},  // much faster than the block time: catching up
	} {
		ts += b.interval
		a.Replay(b.txs, ts, b.rnd)
		if got := a.Capacity(); got != b.want {
			t.Fatalf("after %+v: capacity %d, want %d", b, got, b.want)
		}
	}
}

func TestAdmissionRefusesWhatTheNextBlocksCannotTake(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBlockTxs = 40
	tc, p, a, now := admissionPool(t, 20, 40, cfg)
	// Limit 40 (capacity 40, the whole block). One client alone fills the
	// bound, then the door refuses with the time until the next block.
	ts := uint64(now.Now().UnixMilli())
	a.Committed(0, ts, 0)
	admitted := 0
	for i := range 60 {
		ok, reason, after := a.Admit("10.0.0.1")
		if !ok {
			if reason != RefusedCapacity {
				t.Fatalf("refusal %d: reason %q, want capacity", i, reason)
			}
			if after != time.Second {
				t.Fatalf("retry after %s, want the 1 s until the next block", after)
			}
			continue
		}
		if _, err := p.Add(raw(t, tc.keys[i%20], spec{nonce: uint64(i / 20)})); err != nil {
			t.Fatal(err)
		}
		admitted++
	}
	if admitted != 40 || p.Pending() != 40 {
		t.Fatalf("admitted %d (pending %d), want the 40 the bound allows", admitted, p.Pending())
	}
	// The block takes what was admitted: every admitted transaction is in
	// it, and the door opens again.
	if got := len(commitFill(t, tc, p)); got != 40 {
		t.Fatalf("block holds %d, want all 40 admitted", got)
	}
	now.Advance(time.Second)
	a.Committed(40, ts+1000, 0)
	if ok, _, _ := a.Admit("10.0.0.1"); !ok {
		t.Fatal("door still closed after the block made room")
	}
}

func TestAdmissionIsFairAcrossClients(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBlockTxs = 100
	tc, p, a, now := admissionPool(t, 100, 100, cfg)
	ts := uint64(now.Now().UnixMilli())
	a.Committed(0, ts, 0)
	send := func(client string, i int) bool {
		ok, _, _ := a.Admit(client)
		if ok {
			if _, err := p.Add(raw(t, tc.keys[i%100], spec{nonce: uint64(i / 100)})); err != nil {
				t.Fatal(err)
			}
		}
		return ok
	}
	// Block 1: a flooder alone takes the whole bound.
	flood := 0
	for i := 0; i < 300; i++ {
		if send("flooder", i) {
			flood++
		}
	}
	if flood != 100 {
		t.Fatalf("a client alone got %d, want the whole bound (100)", flood)
	}
	commitFill(t, tc, p)
	a.Committed(100, ts+1000, 0)

	// Block 2: the flooder sends 10 for each of the honest client's 1,
	// first. It takes at most the lower half and its share; the honest
	// client, whose share is half the bound, gets every one of its 20.
	flood, honest := 0, 0
	n := 0
	for range 20 {
		for range 10 {
			if send("flooder", 100+n) {
				flood++
			}
			n++
		}
		if send("honest", 100+n) {
			honest++
		}
		n++
	}
	if honest != 20 {
		t.Fatalf("honest client got %d of 20 while a flooder sent 200 (flooder got %d)", honest, flood)
	}
	if flood > 50 {
		t.Fatalf("flooder got %d, want at most its share of 50", flood)
	}
	if p.Pending() > 100 {
		t.Fatalf("pending %d above the bound", p.Pending())
	}
}
