package consensus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/bizra/node0/consensus/bls"
)

// Crypto signs for this validator and checks the signatures of the
// validator set. The core calls it; it holds no consensus state.
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
