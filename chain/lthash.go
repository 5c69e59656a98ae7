package chain

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"lukechampine.com/blake3"
)

// LatticeSize is the byte length of a lattice hash: 1024 lanes of 16 bits.
const LatticeSize = 2048

const latticeWords = LatticeSize / 8

// accountDomain separates account vectors from any other use of BLAKE3.
var accountDomain = []byte("bizra/state/account/v1")

// Lattice is an additive multiset hash (LtHash): a vector of 1024 16-bit
// lanes, held as 256 words of four lanes each. Adding and removing elements
// commute, so a state root can be updated in any order and in parallel.
type Lattice struct {
	w [latticeWords]uint64
}

// lane masks for SWAR arithmetic on four 16-bit lanes per word.
const laneHigh = 0x8000_8000_8000_8000

func swarAdd(a, b uint64) uint64 {
	return ((a &^ laneHigh) + (b &^ laneHigh)) ^ ((a ^ b) & laneHigh)
}

func swarSub(a, b uint64) uint64 {
	return ((a | laneHigh) - (b &^ laneHigh)) ^ ((a ^ ^b) & laneHigh)
}

// Add adds o lane-wise.
func (l *Lattice) Add(o *Lattice) {
	for i := range l.w {
		l.w[i] = swarAdd(l.w[i], o.w[i])
	}
}

// Sub subtracts o lane-wise.
func (l *Lattice) Sub(o *Lattice) {
	for i := range l.w {
		l.w[i] = swarSub(l.w[i], o.w[i])
	}
}

// Bytes returns the little-endian lane encoding.
func (l *Lattice) Bytes() []byte {
	b := make([]byte, LatticeSize)
	for i, w := range l.w {
		binary.LittleEndian.PutUint64(b[i*8:], w)
	}
	return b
}

// SetBytes loads a little-endian lane encoding.
func (l *Lattice) SetBytes(b []byte) error {
	if len(b) != LatticeSize {
		return fmt.Errorf("%w: lattice is %d bytes, want %d", ErrDecode, len(b), LatticeSize)
	}
	for i := range l.w {
		l.w[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return nil
}

// Root is BLAKE3-256 of the lane encoding: the state root.
func (l *Lattice) Root() Hash {
	return Hash(blake3.Sum256(l.Bytes()))
}

// elementHasher computes account vectors, reusing one BLAKE3 state.
type elementHasher struct {
	h   *blake3.Hasher
	in  []byte
	out [LatticeSize]byte
}

func newElementHasher() *elementHasher {
	return &elementHasher{h: blake3.New(32, nil), in: make([]byte, 0, 128)}
}

// element computes the vector of (addr, account) into e.out.
func (e *elementHasher) element(addr Address, a *Account) {
	e.in = append(e.in[:0], accountDomain...)
	e.in = append(e.in, addr[:]...)
	e.in = a.AppendEncode(e.in)
	e.h.Reset()
	e.h.Write(e.in)
	x := e.h.XOF()
	// Read in 1 KiB pieces: the reader computes one piece with one SIMD call,
	// while a larger read starts goroutines that cost more than they save.
	x.Read(e.out[:1024])
	x.Read(e.out[1024:])
}

// apply adds the vector of one account to l, or subtracts it.
func (e *elementHasher) apply(l *Lattice, addr Address, a *Account, sub bool) {
	if a.IsEmpty() {
		return
	}
	e.element(addr, a)
	out := &e.out
	if sub {
		for i := range l.w {
			l.w[i] = swarSub(l.w[i], binary.LittleEndian.Uint64(out[i*8:]))
		}
		return
	}
	for i := range l.w {
		l.w[i] = swarAdd(l.w[i], binary.LittleEndian.Uint64(out[i*8:]))
	}
}

// AccountChange is the before and after state of one account in a block.
type AccountChange struct {
	Addr   Address
	Before Account
	After  Account
}

// latticeParallelMin is the number of changes below which one goroutine
// updates the lattice.
const latticeParallelMin = 256

// UpdateLattice returns base with every change applied: the vector of each
// account's old state subtracted and of its new state added. The work is
// spread over all cores; the result does not depend on the split.
func UpdateLattice(base *Lattice, changes []AccountChange) Lattice {
	out := *base
	workers := runtime.GOMAXPROCS(0)
	if workers > len(changes)/latticeParallelMin {
		workers = len(changes) / latticeParallelMin
	}
	if workers <= 1 {
		e := newElementHasher()
		for i := range changes {
			c := &changes[i]
			e.apply(&out, c.Addr, &c.Before, true)
			e.apply(&out, c.Addr, &c.After, false)
		}
		return out
	}
	partial := make([]Lattice, workers)
	var wg sync.WaitGroup
	per := (len(changes) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(changes))
		wg.Add(1)
		go func(acc *Lattice, part []AccountChange) {
			defer wg.Done()
			e := newElementHasher()
			for i := range part {
				c := &part[i]
				e.apply(acc, c.Addr, &c.Before, true)
				e.apply(acc, c.Addr, &c.After, false)
			}
		}(&partial[w], changes[lo:hi])
	}
	wg.Wait()
	for i := range partial {
		out.Add(&partial[i])
	}
	return out
}
