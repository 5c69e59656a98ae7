package mempool

import (
	"encoding/binary"
	"sync"

	"github.com/bizra/node0/chain"
)

// knownIndex finds pooled transactions by hash. It is striped by one byte
// of the hash and keyed by eight others: transaction hashes are uniform, so
// a uint64 key hashes and compares faster than the whole hash, and the rare
// transactions that share a key are chained through entry.nextKnown. An
// admission reserves its hash here before the sender is recovered, so the
// "already known" check and the insertion are one operation, and two
// concurrent admissions of one transaction cannot both pass.
type knownIndex struct {
	stripes [knownStripes]knownStripe
}

const knownStripes = 64

type knownStripe struct {
	mu sync.Mutex
	m  map[uint64]*entry
	_  [40]byte // keep stripes on separate cache lines
}

func newKnownIndex() *knownIndex {
	k := &knownIndex{}
	for i := range k.stripes {
		k.stripes[i].m = make(map[uint64]*entry)
	}
	return k
}

func knownKey(h *chain.Hash) (stripe int, key uint64) {
	return int(h[8]) % knownStripes, binary.LittleEndian.Uint64(h[:8])
}

// reserve adds e unless a transaction with its hash is present.
func (k *knownIndex) reserve(e *entry) bool {
	si, _ := knownKey(&e.tx.Hash)
	s := &k.stripes[si]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(e)
}

// reserveAll reserves a batch, taking each stripe's lock once, and reports
// for each entry whether it was reserved. A hash repeated within the batch
// is reserved once.
func (k *knownIndex) reserveAll(es []*entry) []bool {
	ok := make([]bool, len(es))
	byStripe := make([][]int, knownStripes)
	for i, e := range es {
		si, _ := knownKey(&e.tx.Hash)
		byStripe[si] = append(byStripe[si], i)
	}
	for si, idx := range byStripe {
		if len(idx) == 0 {
			continue
		}
		s := &k.stripes[si]
		s.mu.Lock()
		for _, i := range idx {
			ok[i] = s.add(es[i])
		}
		s.mu.Unlock()
	}
	return ok
}

// add inserts e unless its hash is present. The caller holds s.mu.
func (s *knownStripe) add(e *entry) bool {
	_, key := knownKey(&e.tx.Hash)
	head := s.m[key]
	for c := head; c != nil; c = c.nextKnown {
		if c.tx.Hash == e.tx.Hash {
			return false
		}
	}
	e.nextKnown = head
	s.m[key] = e
	return true
}

// remove takes e out if it is present; removing twice is harmless.
func (k *knownIndex) remove(e *entry) {
	si, key := knownKey(&e.tx.Hash)
	s := &k.stripes[si]
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *entry
	for c := s.m[key]; c != nil; prev, c = c, c.nextKnown {
		if c != e {
			continue
		}
		switch {
		case prev != nil:
			prev.nextKnown = c.nextKnown
		case c.nextKnown != nil:
			s.m[key] = c.nextKnown
		default:
			delete(s.m, key)
		}
		c.nextKnown = nil
		return
	}
}

// get returns the entry of a transaction admitted to the pool; one whose
// admission is still under way is not returned.
func (k *knownIndex) get(h chain.Hash) *entry {
	si, key := knownKey(&h)
	s := &k.stripes[si]
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := s.m[key]; c != nil; c = c.nextKnown {
		if c.tx.Hash == h && c.live.Load() {
			return c
		}
	}
	return nil
}
