package consensus

import (
	"errors"
	"fmt"
	"sync"

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
