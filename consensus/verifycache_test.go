package consensus

import (
	"slices"
	"testing"
)

func TestVerifyCache(t *testing.T) {
	set, sks := testSet(t, equalStakes(8))
	msg := VoteSignBytes(Hash{1}, Prevote, 5, 0, Hash{2})
	other := VoteSignBytes(Hash{1}, Prevote, 5, 1, Hash{2})
	sig := func(i int) []byte { return sks[i].Sign(msg).Bytes() }
	type step struct {
		verify    func(c Crypto) bool
		want      bool
		wantCheck bool // reached the real scheme
	}
	single := func(i uint32, m, s []byte) func(Crypto) bool {
		return func(c Crypto) bool { return c.Verify(i, m, s) }
	}
	aggr := func(b Bitmap, m, s []byte) func(Crypto) bool {
		return func(c Crypto) bool { return c.VerifyAggregate(b, m, s) }
	}
	agg012 := aggregateOf(t, mustBLSCrypto(t, nil, set), sks, msg, 0, 1, 2)
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"a vote is checked once", []step{
			{single(3, msg, sig(3)), true, true},
			{single(3, msg, sig(3)), true, false},
		}},
		{"a known signature claimed for another validator is checked", []step{
			{single(3, msg, sig(3)), true, true},
			{single(4, msg, sig(3)), false, true},
		}},
		{"a known signature over other bytes is checked", []step{
			{single(3, msg, sig(3)), true, true},
			{single(3, other, sig(3)), false, true},
		}},
		{"failures are not remembered", []step{
			{single(4, msg, sig(3)), false, true},
			{single(4, msg, sig(3)), false, true},
		}},
		{"an aggregate is checked once", []step{
			{aggr(bitmapOf(8, 0, 1, 2), msg, agg012), true, true},
			{aggr(bitmapOf(8, 0, 1, 2), msg, agg012), true, false},
		}},
		{"a known aggregate claimed for other signers is checked", []step{
			{aggr(bitmapOf(8, 0, 1, 2), msg, agg012), true, true},
			{aggr(bitmapOf(8, 0, 1, 3), msg, agg012), false, true},
			{aggr(bitmapOf(8, 0, 1), msg, agg012), false, true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inner := &countingCrypto{Crypto: mustBLSCrypto(t, nil, set)}
			vc := NewVerifyCache(inner, 0)
			for i, s := range c.steps {
				before := inner.checks
				if got := s.verify(vc); got != s.want {
					t.Fatalf("step %d: %v, want %v", i, got, s.want)
				}
				if checked := inner.checks > before; checked != s.wantCheck {
					t.Fatalf("step %d: reached the scheme %v, want %v", i, checked, s.wantCheck)
				}
			}
		})
	}
}

// TestVerifyCacheComposedAggregate: the core checks a batch of votes
// through their aggregate; votes the cache verified one by one make the
// batch free, and only exactly their union.
func TestVerifyCacheComposedAggregate(t *testing.T) {
	set, sks := testSet(t, equalStakes(8))
	msg := VoteSignBytes(Hash{1}, Precommit, 9, 2, Hash{3})
	inner := &countingCrypto{Crypto: mustBLSCrypto(t, nil, set)}
	vc := NewVerifyCache(inner, 0)
	var sigs [][]byte
	for i := range 4 {
		s := sks[i].Sign(msg).Bytes()
		if !vc.Verify(uint32(i), msg, s) {
			t.Fatalf("vote %d does not verify", i)
		}
		sigs = append(sigs, s)
	}
	part := aggregateOf(t, mustBLSCrypto(t, nil, set), sks, msg, 4, 5)
	if !vc.VerifyAggregate(bitmapOf(8, 4, 5), msg, part) {
		t.Fatal("part does not verify")
	}
	agg, err := vc.Aggregate(append(slices.Clone(sigs), part))
	if err != nil {
		t.Fatal(err)
	}
	checks := inner.checks
	if !vc.VerifyAggregate(bitmapOf(8, 0, 1, 2, 3, 4, 5), msg, agg) {
		t.Fatal("the aggregate of checked parts does not verify")
	}
	if inner.checks != checks {
		t.Fatal("the aggregate of checked parts reached the scheme")
	}
	// The same aggregate claimed for more or fewer signers is checked, and
	// fails.
	for _, b := range []Bitmap{bitmapOf(8, 0, 1, 2, 3, 4, 5, 6), bitmapOf(8, 0, 1, 2, 3, 4)} {
		if vc.VerifyAggregate(b, msg, agg) {
			t.Fatalf("the aggregate verifies for %v", b.Members())
		}
	}
	if inner.checks != checks+2 {
		t.Fatalf("%d checks for two wrong claims", inner.checks-checks)
	}
	// Overlapping parts are not a composition of disjoint signers: checked.
	dup, err := vc.Aggregate([][]byte{sigs[0], sigs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if vc.VerifyAggregate(bitmapOf(8, 0), msg, dup) {
		t.Fatal("a signature counted twice verifies as one signer's")
	}
}

func TestVerifyCacheIsBounded(t *testing.T) {
	set, sks := testSet(t, equalStakes(4))
	inner := &countingCrypto{Crypto: mustBLSCrypto(t, nil, set)}
	const size = 16
	vc := NewVerifyCache(inner, size)
	var sigs [][]byte
	var msgs [][]byte
	for r := range 5 * size {
		m := TimeoutSignBytes(Hash{1}, 1, uint64(r))
		s := sks[0].Sign(m).Bytes()
		if !vc.Verify(0, m, s) {
			t.Fatal("timeout does not verify")
		}
		msgs, sigs = append(msgs, m), append(sigs, s)
	}
	if n := len(vc.cur) + len(vc.old); n > 2*size {
		t.Fatalf("%d entries, bound %d", n, 2*size)
	}
	// The newest are still known; the oldest were dropped.
	before := inner.checks
	vc.Verify(0, msgs[len(msgs)-1], sigs[len(sigs)-1])
	if inner.checks != before {
		t.Fatal("the newest entry was dropped")
	}
	vc.Verify(0, msgs[0], sigs[0])
	if inner.checks != before+1 {
		t.Fatal("the oldest entry is still known past the bound")
	}
}

// BenchmarkVerifyCache is the cost of one vote's check through the cache:
// a miss (a fresh vote: the pairing plus the cache's hashing) and a hit
// (a copy, or the core's own check of a vote the gossip layer checked).
func BenchmarkVerifyCache(b *testing.B) {
	set, sks := testSet(b, equalStakes(4))
	msg := VoteSignBytes(Hash{1}, Prevote, 5, 0, Hash{2})
	sig := sks[1].Sign(msg).Bytes()
	b.Run("plain", func(b *testing.B) {
		c := mustBLSCrypto(b, nil, set)
		for b.Loop() {
			if !c.Verify(1, msg, sig) {
				b.Fatal("bad")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		c := mustBLSCrypto(b, nil, set)
		for b.Loop() {
			vc := NewVerifyCache(c, 16) // empty: every check misses
			if !vc.Verify(1, msg, sig) {
				b.Fatal("bad")
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		vc := NewVerifyCache(mustBLSCrypto(b, nil, set), 0)
		vc.Verify(1, msg, sig)
		for b.Loop() {
			if !vc.Verify(1, msg, sig) {
				b.Fatal("bad")
			}
		}
	})
}

// trueCrypto accepts every signature: the cache's own cost, without BLS.
type trueCrypto struct{ Crypto }

func (trueCrypto) Verify(uint32, []byte, []byte) bool { return true }

// BenchmarkVerifyCacheOverhead is the cache's own work around a check
// (hashing the signed bytes and the signature, the lookup, the store),
// over a scheme that costs nothing, so that it is not lost in the spread
// of a pairing.
func BenchmarkVerifyCacheOverhead(b *testing.B) {
	msg := VoteSignBytes(Hash{1}, Prevote, 5, 0, Hash{2})
	sig := make([]byte, 96)
	b.Run("miss", func(b *testing.B) {
		vc := NewVerifyCache(trueCrypto{}, 1<<14)
		var i uint32
		for b.Loop() {
			vc.Verify(i%(1<<20), msg, sig) // another signer each time: a miss
			i++
		}
	})
	b.Run("hit", func(b *testing.B) {
		vc := NewVerifyCache(trueCrypto{}, 0)
		vc.Verify(1, msg, sig)
		for b.Loop() {
			vc.Verify(1, msg, sig)
		}
	})
}
