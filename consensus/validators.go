package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// Validator is a member of the validator set.
type Validator struct {
	Name   string
	PubKey []byte // compressed BLS12-381 public key
	Stake  uint64
}

// ValidatorSet is the ordered set of validators; a validator's index in it
// is its identity in votes and bitmaps.
type ValidatorSet struct {
	vals  []Validator
	total uint64
	cum   []uint64 // cum[i] = stake of validators 0..i
}

// MaxTotalStake bounds the total stake so that quorum arithmetic (3 ×
// stake) cannot overflow.
const MaxTotalStake = 1 << 60

// NewValidatorSet builds a set; stakes must be positive and their sum at
// most MaxTotalStake.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 {
		return nil, errors.New("consensus: empty validator set")
	}
	if len(vals) > maxValidators {
		return nil, fmt.Errorf("consensus: %d validators, more than the %d a certificate can name", len(vals), maxValidators)
	}
	s := &ValidatorSet{vals: append([]Validator(nil), vals...), cum: make([]uint64, len(vals))}
	for i, v := range vals {
		if v.Stake == 0 {
			return nil, fmt.Errorf("consensus: validator %d (%s) has no stake", i, v.Name)
		}
		if s.total += v.Stake; s.total > MaxTotalStake {
			return nil, fmt.Errorf("consensus: total stake exceeds %d", uint64(MaxTotalStake))
		}
		s.cum[i] = s.total
	}
	return s, nil
}

// Len returns the number of validators.
func (s *ValidatorSet) Len() int { return len(s.vals) }

// Get returns validator i.
func (s *ValidatorSet) Get(i uint32) Validator { return s.vals[i] }

// TotalStake returns the sum of stakes.
func (s *ValidatorSet) TotalStake() uint64 { return s.total }

// StakeOf returns the stake of the members of a bitmap.
func (s *ValidatorSet) StakeOf(b Bitmap) uint64 {
	var st uint64
	for _, i := range b.Members() {
		if int(i) < len(s.vals) {
			st += s.vals[i].Stake
		}
	}
	return st
}

// IsQuorum reports whether stake is more than two thirds of the total.
func (s *ValidatorSet) IsQuorum(stake uint64) bool { return 3*stake > 2*s.total }

// IsOneThird reports whether stake is more than a third of the total: at
// least one honest validator among them when at most a third is faulty.
func (s *ValidatorSet) IsOneThird(stake uint64) bool { return 3*stake > s.total }

// Proposer returns the leader of a round: a validator drawn with
// probability proportional to stake by a hash of height and round, the
// same on every node.
func (s *ValidatorSet) Proposer(height, round uint64) uint32 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], height)
	binary.BigEndian.PutUint64(b[8:], round)
	x := xxhash.Sum64(b[:]) % s.total
	return uint32(sort.Search(len(s.cum), func(i int) bool { return s.cum[i] > x }))
}

// Committees is an assignment of validators to committees for one epoch.
type Committees struct {
	seed    Hash
	of      []int      // validator → committee
	members [][]uint32 // committee → validators, ascending
}

// MinCommitteeSize is the smallest committee worth an aggregator: with
// fewer validators per committee than this, there is one committee and
// votes go straight to the leader.
const MinCommitteeSize = 4

// Assign divides the set into count committees for an epoch: validator v
// goes to xxhash(seed || public key) mod count, as in the design document's
// AssignValidatorToWorker, with the seed changing each epoch. Committees
// that would be smaller than MinCommitteeSize on average collapse into one.
func (s *ValidatorSet) Assign(seed Hash, count int) *Committees {
	if count < 1 || len(s.vals) < count*MinCommitteeSize {
		count = 1
	}
	c := &Committees{seed: seed, of: make([]int, len(s.vals)), members: make([][]uint32, count)}
	buf := make([]byte, 0, 32+64)
	for i, v := range s.vals {
		k := 0
		if count > 1 {
			buf = append(append(buf[:0], seed[:]...), v.PubKey...)
			k = int(xxhash.Sum64(buf) % uint64(count))
		}
		c.of[i] = k
		c.members[k] = append(c.members[k], uint32(i))
	}
	return c
}

// Count returns the number of committees.
func (c *Committees) Count() int { return len(c.members) }

// Of returns the committee of a validator.
func (c *Committees) Of(v uint32) int { return c.of[v] }

// Members returns a committee's validators.
func (c *Committees) Members(k int) []uint32 { return c.members[k] }

// Aggregator returns the validator that aggregates committee k's votes in a
// round, drawn from the committee by a hash of height, round and k. With
// one committee there is none: votes go to the leader.
func (c *Committees) Aggregator(height, round uint64, k int) (uint32, bool) {
	if len(c.members) == 1 || len(c.members[k]) == 0 {
		return 0, false
	}
	var b [56]byte
	copy(b[:32], c.seed[:])
	binary.BigEndian.PutUint64(b[32:], height)
	binary.BigEndian.PutUint64(b[40:], round)
	binary.BigEndian.PutUint64(b[48:], uint64(k))
	m := c.members[k]
	return m[xxhash.Sum64(b[:])%uint64(len(m))], true
}
