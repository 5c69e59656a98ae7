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

// feed feeds the door a run of blocks 1 s apart (interval ms apart when
// given) of txs transactions each, decided in round 0.
func feed(a *Admission, ts *uint64, count, txs int, interval uint64) {
	for range count {
		*ts += interval
		a.Committed(txs, *ts, 0)
	}
}

func TestAdmissionCapacityFollowsTheChain(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinBlockTxs = 100
	_, _, a, _ := admissionPool(t, 1, 20_000, cfg)
	if got := a.Capacity(); got != 5_000 {
		t.Fatalf("initial capacity %d, want a quarter of the block limit (5000)", got)
	}
	ts := uint64(1_800_000_000_000)
	a.Committed(0, ts, 0) // the first block only sets the clock

	// Full blocks on time: demand at the bound, the capacity grows 5 % a
	// block.
	feed(a, &ts, 1, 5_000, 1000)
	if got := a.Capacity(); got != 5_250 {
		t.Fatalf("after a full block on time: %d, want 5250", got)
	}
	// A block on time but well below the capacity changes nothing.
	feed(a, &ts, 3, 1_000, 1000)
	if got := a.Capacity(); got != 5_250 {
		t.Fatalf("after light blocks: %d, want 5250", got)
	}
	// A late, loaded block: the chain took more than it could check in
	// time; a quarter off, every time.
	feed(a, &ts, 1, 5_000, 1400)
	if got := a.Capacity(); got != 3_938 {
		t.Fatalf("after a late full block: %d, want 3938", got)
	}
	// Late in round 1 (a timeout) counts as late even on time.
	ts += 1000
	a.Committed(3_000, ts, 1)
	if got := a.Capacity(); got != 2_954 {
		t.Fatalf("after a round-1 block: %d, want 2954", got)
	}
	// A late block with little in it is a fault, not load.
	feed(a, &ts, 2, 100, 5000)
	if got := a.Capacity(); got != 2_954 {
		t.Fatalf("after late empty blocks: %d, want 2954", got)
	}
	// Blocks much faster than the block time (catching up) change nothing.
	feed(a, &ts, 5, 2_954, 100)
	if got := a.Capacity(); got != 2_954 {
		t.Fatalf("after catch-up blocks: %d, want 2954", got)
	}
	// The bounds hold.
	feed(a, &ts, 60, 20_000, 1000)
	if got := a.Capacity(); got != 20_000 {
		t.Fatalf("capacity %d after many full blocks, want the block limit", got)
	}
	feed(a, &ts, 60, 20_000, 3000)
	if got := a.Capacity(); got != 100 {
		t.Fatalf("capacity %d after many late blocks, want min_block_txs", got)
	}
	if got := a.Limit(); got != 100 {
		t.Fatalf("limit %d at admit_blocks 1, want the capacity", got)
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
