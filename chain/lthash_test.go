package chain

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/holiman/uint256"
)

func TestSWARMatchesLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edge := []uint64{0, ^uint64(0), laneHigh, ^uint64(laneHigh), 0x0001_0001_0001_0001, 0x7fff_8000_ffff_0000}
	vals := append([]uint64(nil), edge...)
	for range 2000 {
		vals = append(vals, rng.Uint64())
	}
	for _, a := range vals {
		for _, b := range edge {
			for _, pair := range [][2]uint64{{a, b}, {b, a}, {a, vals[rng.IntN(len(vals))]}} {
				x, y := pair[0], pair[1]
				var wantAdd, wantSub uint64
				for lane := 0; lane < 4; lane++ {
					sh := uint(lane * 16)
					xa, ya := uint16(x>>sh), uint16(y>>sh)
					wantAdd |= uint64(xa+ya) << sh
					wantSub |= uint64(xa-ya) << sh
				}
				if got := swarAdd(x, y); got != wantAdd {
					t.Fatalf("add(%x,%x)=%x want %x", x, y, got, wantAdd)
				}
				if got := swarSub(x, y); got != wantSub {
					t.Fatalf("sub(%x,%x)=%x want %x", x, y, got, wantSub)
				}
			}
		}
	}
}

func randomChanges(rng *rand.Rand, n int) []AccountChange {
	out := make([]AccountChange, n)
	for i := range out {
		var a Address
		binary.BigEndian.PutUint64(a[:], rng.Uint64())
		out[i] = AccountChange{
			Addr:   a,
			Before: Account{Nonce: rng.Uint64N(3), Balance: *uint256.NewInt(rng.Uint64N(1000))},
			After:  Account{Nonce: rng.Uint64N(3) + 1, Balance: *uint256.NewInt(rng.Uint64N(1000))},
		}
	}
	return out
}

func TestLatticeOrderIndependentAndInvertible(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var zero Lattice
	// Build a state of 1000 accounts from nothing.
	created := randomChanges(rng, 1000)
	for i := range created {
		created[i].Before = Account{}
	}
	l1 := UpdateLattice(&zero, created)
	shuffled := append([]AccountChange(nil), created...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	l2 := UpdateLattice(&zero, shuffled)
	if l1.Root() != l2.Root() {
		t.Fatal("lattice depends on update order")
	}
	// Single-threaded (under the parallel threshold) in chunks equals one batch.
	var l3 Lattice
	for i := 0; i < len(created); i += 100 {
		l3 = UpdateLattice(&l3, created[i:i+100])
	}
	if l3 != l1 {
		t.Fatal("chunked updates differ from one batch")
	}
	// Deleting every account returns to the empty lattice.
	del := make([]AccountChange, len(created))
	for i, c := range created {
		del[i] = AccountChange{Addr: c.Addr, Before: c.After}
	}
	if back := UpdateLattice(&l1, del); back != zero {
		t.Fatal("removing all accounts does not give the empty lattice")
	}
	// A change to one account changes the root, and changing it back restores it.
	one := []AccountChange{{Addr: created[5].Addr, Before: created[5].After, After: Account{Nonce: 99}}}
	l4 := UpdateLattice(&l1, one)
	if l4.Root() == l1.Root() {
		t.Fatal("root unchanged after an account changed")
	}
	one[0].Before, one[0].After = one[0].After, one[0].Before
	if l5 := UpdateLattice(&l4, one); l5 != l1 {
		t.Fatal("reverting a change does not restore the lattice")
	}
	// The same account at another address is a different element.
	moved := []AccountChange{{Addr: Address{0xee}, After: created[0].After}}
	var only, other Lattice
	only = UpdateLattice(&only, created[:1])
	other = UpdateLattice(&other, moved)
	if only == other {
		t.Fatal("address is not bound into the element")
	}
}

func TestLatticeBytesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var zero Lattice
	l := UpdateLattice(&zero, randomChanges(rng, 10))
	var back Lattice
	if err := back.SetBytes(l.Bytes()); err != nil {
		t.Fatal(err)
	}
	if back != l {
		t.Fatal("round trip changed the lattice")
	}
	if err := back.SetBytes(make([]byte, LatticeSize-1)); err == nil {
		t.Fatal("short lattice accepted")
	}
}

func BenchmarkLatticeElement(b *testing.B) {
	e := newElementHasher()
	var l Lattice
	a := Account{Nonce: 1, Balance: *uint256.NewInt(1)}
	for b.Loop() {
		e.apply(&l, Address{1}, &a, false)
	}
}
