package consensus

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bizra/node0/consensus/bls"
)

// Crypto signs for this validator and checks the signatures of the
// validator set. The core calls it; it holds no consensus state.
//
// The core relies on aggregation being additive: when the aggregates of
// two groups of signatures with disjoint signers verify, so does the
// aggregate of both groups. Its optimistic checks infer from it that when
// a group fails and one half of it passes, the other half fails.
type Crypto interface {
	// Sign signs msg with this validator's key.
	Sign(msg []byte) []byte
	// Verify checks validator i's signature of msg.
	Verify(i uint32, msg, sig []byte) bool
	// Aggregate combines signatures of one message into one.
	Aggregate(sigs [][]byte) ([]byte, error)
	// VerifyAggregate checks that sig aggregates the signatures of msg by
	// exactly the members of signers.
	VerifyAggregate(signers Bitmap, msg, sig []byte) bool
}

// BLSCrypto is Crypto with BLS12-381 (consensus/bls). It decodes every
// public key once and keeps the aggregate key of the whole set, so that a
// certificate signed by most validators is checked by subtracting the few
// absent keys from it and one pairing.
type BLSCrypto struct {
	sk   *bls.SecretKey
	pks  []*bls.PublicKey
	all  *bls.PublicKey
	mu   sync.Mutex
	sigs map[string]*bls.Signature // decoded signatures, bounded cache
}

// NewBLSCrypto prepares BLS signing for the validator holding sk (nil for
// a node that only verifies) over the set.
func NewBLSCrypto(sk *bls.SecretKey, set *ValidatorSet) (*BLSCrypto, error) {
	c := &BLSCrypto{sk: sk, pks: make([]*bls.PublicKey, set.Len()), sigs: make(map[string]*bls.Signature)}
	for i := range set.Len() {
		pk, err := bls.PublicKeyFromBytes(set.Get(uint32(i)).PubKey)
		if err != nil {
			return nil, fmt.Errorf("consensus: validator %d public key: %w", i, err)
		}
		c.pks[i] = pk
	}
	all, err := bls.AggregatePublicKeys(c.pks)
	if err != nil {
		return nil, err
	}
	c.all = all
	return c, nil
}

// Sign signs msg.
func (c *BLSCrypto) Sign(msg []byte) []byte {
	if c.sk == nil {
		return nil
	}
	return c.sk.Sign(msg).Bytes()
}

// sig decodes a signature, with the subgroup check, through a bounded
// cache: the core aggregates the signatures it has checked, so each is
// decoded once.
//
// Decoding is most of an aggregator's work (about 0.1 ms a signature,
// some 10 of the 13 ms that 100 votes cost; one pairing is about 1 ms), so
// we considered checking the subgroup once, on the aggregate, instead of
// on every signature. It would be sound for the aggregate itself: a sum in
// the subgroup that passes the pairing check is a valid multi-signature of
// its signers whatever its terms were. It is not sound for our use, which
// attributes a passing aggregate to each of its terms: two faulty
// validators can send s1+t and s2-t, with s1, s2 their real signatures and
// t a point outside the subgroup; checked together they pass, and both
// become good votes. The core later aggregates subsets of its good votes
// (an aggregator takes its own committee's, a leader leaves out the direct
// votes that a part covers), and a subset holding only one of them carries
// t: every receiver rejects that part or certificate, so two faulty
// validators could make an honest aggregator look faulty or waste an
// honest leader's round. Besides, herumi offers no decoding without the
// check but the process-wide switch VerifySignatureOrder, which package
// bls forbids anyone else to touch. So every signature keeps its subgroup
// check; the acceptance figures hold with it (see bench_test.go).
func (c *BLSCrypto) sig(b []byte) (*bls.Signature, error) {
	c.mu.Lock()
	s, ok := c.sigs[string(b)]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := bls.SignatureFromBytes(b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.sigs) > 4096 {
		clear(c.sigs)
	}
	c.sigs[string(b)] = s
	c.mu.Unlock()
	return s, nil
}

// Verify checks one validator's signature.
func (c *BLSCrypto) Verify(i uint32, msg, sig []byte) bool {
	if int(i) >= len(c.pks) {
		return false
	}
	s, err := c.sig(sig)
	if err != nil {
		return false
	}
	return bls.Verify(c.pks[i], msg, s)
}

// Aggregate combines signatures.
func (c *BLSCrypto) Aggregate(sigs [][]byte) ([]byte, error) {
	if len(sigs) == 0 {
		return nil, errors.New("consensus: nothing to aggregate")
	}
	dec := make([]*bls.Signature, len(sigs))
	for i, b := range sigs {
		s, err := c.sig(b)
		if err != nil {
			return nil, err
		}
		dec[i] = s
	}
	agg, err := bls.AggregateSignatures(dec)
	if err != nil {
		return nil, err
	}
	return agg.Bytes(), nil
}

// VerifyAggregate checks an aggregate signature of msg by the signers.
func (c *BLSCrypto) VerifyAggregate(signers Bitmap, msg, sig []byte) bool {
	if len(signers) != (len(c.pks)+7)/8 {
		return false
	}
	present := signers.Members()
	if len(present) == 0 || int(present[len(present)-1]) >= len(c.pks) {
		return false
	}
	s, err := c.sig(sig)
	if err != nil {
		return false
	}
	var key *bls.PublicKey
	if absent := len(c.pks) - len(present); absent < len(present) {
		// Most signed: the whole set's key minus the absent ones.
		missing := make([]*bls.PublicKey, 0, absent)
		for i := range c.pks {
			if !signers.Has(uint32(i)) {
				missing = append(missing, c.pks[i])
			}
		}
		key = c.all
		if len(missing) > 0 {
			key = c.all.Sub(missing...)
		}
	} else {
		keys := make([]*bls.PublicKey, len(present))
		for j, i := range present {
			keys[j] = c.pks[i]
		}
		if key, err = bls.AggregatePublicKeys(keys); err != nil {
			return false
		}
	}
	return bls.VerifyAggregated(key, msg, s)
}

// VerifyCache is a Crypto that remembers the signatures it has verified,
// so that a message checked once, where a node's gossip validator checks
// it before relaying it, costs nothing when the core checks it again on
// the consensus goroutine, nor when a copy of it comes back.
//
// An entry is keyed by a hash of the signed bytes and the signature and
// holds the signers it was verified for: a hit needs the same signers, so
// a known signature claimed for another validator is checked afresh. Only
// successes are kept. It also remembers the signatures its own Aggregate
// combined, so that an aggregate of signatures it has each verified (the
// core checks a batch of votes through their aggregate) verifies without
// a pairing: with disjoint signers the aggregate of valid signatures is
// valid for their union (the additivity the Crypto interface states).
//
// Both tables hold two generations of at most size entries (Aggregate's
// at most aggregateBudget signature bytes): when the current one is full
// it becomes the old one, and the old one is dropped. A hit in the old
// generation moves the entry to the current one, so what is in use stays.
type VerifyCache struct {
	inner Crypto
	size  int

	mu       sync.Mutex
	cur, old map[[32]byte]string // signed bytes and signature → signers (singleSigner, setSigners)
	aggCur   map[[32]byte][][]byte
	aggOld   map[[32]byte][][]byte
	aggBytes int // signature bytes in aggCur

	hits, misses atomic.Uint64
}

// DefaultVerifyCacheSize is the entries of one generation of a
// VerifyCache: the messages of several heights of a thousand validators
// (about three per validator per round), within a few megabytes.
const DefaultVerifyCacheSize = 1 << 14

// aggregateBudget bounds the signature bytes that one generation of
// remembered aggregates holds.
const aggregateBudget = 4 << 20

// NewVerifyCache wraps c with a cache of size entries per generation
// (DefaultVerifyCacheSize when size < 1).
func NewVerifyCache(c Crypto, size int) *VerifyCache {
	if size < 1 {
		size = DefaultVerifyCacheSize
	}
	return &VerifyCache{
		inner: c, size: size, cur: map[[32]byte]string{}, old: map[[32]byte]string{},
		aggCur: map[[32]byte][][]byte{}, aggOld: map[[32]byte][][]byte{},
	}
}

// Sign signs with the wrapped Crypto.
func (v *VerifyCache) Sign(msg []byte) []byte { return v.inner.Sign(msg) }

// Verify checks validator i's signature of msg, once.
func (v *VerifyCache) Verify(i uint32, msg, sig []byte) bool {
	key, want := verifyKey(msg, sig), singleSigner(i)
	if s, ok := v.lookup(key); ok && s == want {
		v.hits.Add(1)
		return true
	}
	v.misses.Add(1)
	if !v.inner.Verify(i, msg, sig) {
		return false
	}
	v.store(key, want)
	return true
}

// VerifyAggregate checks an aggregate signature of msg by the signers,
// once; an aggregate this cache combined from signatures it verified for
// disjoint signers whose union is signers needs no check.
func (v *VerifyCache) VerifyAggregate(signers Bitmap, msg, sig []byte) bool {
	key, want := verifyKey(msg, sig), setSigners(signers)
	if s, ok := v.lookup(key); ok && s == want {
		v.hits.Add(1)
		return true
	}
	if v.composed(signers, msg, sig) {
		v.hits.Add(1)
		v.store(key, want)
		return true
	}
	v.misses.Add(1)
	if !v.inner.VerifyAggregate(signers, msg, sig) {
		return false
	}
	v.store(key, want)
	return true
}

// Aggregate combines signatures with the wrapped Crypto and remembers the
// parts of the result.
func (v *VerifyCache) Aggregate(sigs [][]byte) ([]byte, error) {
	agg, err := v.inner.Aggregate(sigs)
	if err != nil || len(sigs) < 2 {
		return agg, err
	}
	n := 0
	for _, s := range sigs {
		n += len(s)
	}
	if n > aggregateBudget/4 {
		return agg, nil // too large to remember
	}
	parts := make([][]byte, len(sigs))
	for i, s := range sigs {
		parts[i] = bytes.Clone(s)
	}
	k := sha256.Sum256(agg)
	v.mu.Lock()
	if v.aggBytes+n > aggregateBudget {
		v.aggOld, v.aggCur, v.aggBytes = v.aggCur, map[[32]byte][][]byte{}, 0
	}
	v.aggCur[k] = parts
	v.aggBytes += n
	v.mu.Unlock()
	return agg, nil
}

// Stats returns the verifications answered from the cache and those
// passed to the wrapped Crypto.
func (v *VerifyCache) Stats() (hits, misses uint64) { return v.hits.Load(), v.misses.Load() }

// composed reports whether sig is an aggregate this cache made of
// signatures of msg that it verified, for disjoint signers whose union is
// signers.
func (v *VerifyCache) composed(signers Bitmap, msg, sig []byte) bool {
	k := sha256.Sum256(sig)
	v.mu.Lock()
	parts, ok := v.aggCur[k]
	if !ok {
		parts, ok = v.aggOld[k]
	}
	v.mu.Unlock()
	if !ok {
		return false
	}
	union := NewBitmap(8 * len(signers))
	for _, p := range parts {
		s, ok := v.lookup(verifyKey(msg, p))
		if !ok || !addSigners(union, s) {
			return false
		}
	}
	return bytes.Equal(union, signers)
}

func (v *VerifyCache) lookup(key [32]byte) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.cur[key]; ok {
		return s, true
	}
	s, ok := v.old[key]
	if ok {
		v.put(key, s)
	}
	return s, ok
}

func (v *VerifyCache) store(key [32]byte, signers string) {
	v.mu.Lock()
	v.put(key, signers)
	v.mu.Unlock()
}

func (v *VerifyCache) put(key [32]byte, signers string) {
	if len(v.cur) >= v.size {
		v.old, v.cur = v.cur, make(map[[32]byte]string, v.size)
	}
	v.cur[key] = signers
}

// verifyKey identifies a signature of msg.
func verifyKey(msg, sig []byte) [32]byte {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(msg)))
	h.Write(n[:])
	h.Write(msg)
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// singleSigner and setSigners name the signers an entry was verified
// for: one validator, or the members of a bitmap. The first byte tells
// them apart.
func singleSigner(i uint32) string {
	var b [5]byte
	b[0] = 's'
	binary.BigEndian.PutUint32(b[1:], i)
	return string(b[:])
}

func setSigners(b Bitmap) string { return "b" + string(b) }

// addSigners adds the signers s to union, and reports false when they
// overlap it or do not fit.
func addSigners(union Bitmap, s string) bool {
	switch {
	case len(s) == 5 && s[0] == 's':
		i := binary.BigEndian.Uint32([]byte(s[1:]))
		if int(i/8) >= len(union) || union.Has(i) {
			return false
		}
		union.Set(i)
		return true
	case len(s) == 1+len(union) && s[0] == 'b':
		b := Bitmap(s[1:])
		if union.Overlaps(b) {
			return false
		}
		union.Or(b)
		return true
	}
	return false
}
