package bls

import (
	"fmt"

	"github.com/herumi/bls-eth-go-binary/bls"
)

// AggregateSignatures returns the sum of sigs. It fails on an empty slice or
// a nil entry.
func AggregateSignatures(sigs []*Signature) (*Signature, error) {
	if len(sigs) == 0 {
		return nil, ErrEmptyAggregate
	}
	var agg Signature
	for i, s := range sigs {
		if s == nil {
			return nil, fmt.Errorf("%w: signature %d", ErrNilInput, i)
		}
		if i == 0 {
			agg.s = s.s
			continue
		}
		agg.s.Add(&s.s)
	}
	return &agg, nil
}

// AggregatePublicKeys returns the sum of pks, the key that verifies an
// aggregate signature of one message by all of them. It fails on an empty
// slice or a nil entry. Same-message aggregation is only safe for keys whose
// proof of possession has been checked (see VerifyPossession).
func AggregatePublicKeys(pks []*PublicKey) (*PublicKey, error) {
	if len(pks) == 0 {
		return nil, ErrEmptyAggregate
	}
	var agg PublicKey
	for i, pk := range pks {
		if pk == nil {
			return nil, fmt.Errorf("%w: public key %d", ErrNilInput, i)
		}
		if i == 0 {
			agg.p = pk.p
			continue
		}
		agg.p.Add(&pk.p)
	}
	return &agg, nil
}

// Add returns pk plus others, leaving pk unchanged: adding a late signer to a
// cached aggregate. A nil argument panics.
func (pk *PublicKey) Add(others ...*PublicKey) *PublicKey {
	sum := *pk
	for _, o := range others {
		sum.p.Add(&o.p)
	}
	return &sum
}

// Sub returns pk minus others, leaving pk unchanged: removing absent signers
// from a cached committee key, so that a certificate signed by all but a few
// of N validators costs len(others) subtractions instead of N additions. The
// caller must subtract only keys that are part of pk; the result of
// subtracting every key is the identity, which no verifier accepts. A nil
// argument panics.
func (pk *PublicKey) Sub(others ...*PublicKey) *PublicKey {
	diff := *pk
	g := bls.CastFromPublicKey(&diff.p)
	for _, o := range others {
		bls.G1Sub(g, g, bls.CastFromPublicKey(&o.p))
	}
	return &diff
}

// Add returns sig plus others, leaving sig unchanged: folding late votes into
// an aggregate. A nil argument panics.
func (sig *Signature) Add(others ...*Signature) *Signature {
	sum := *sig
	for _, o := range others {
		sum.s.Add(&o.s)
	}
	return &sum
}

// FastAggregateVerify reports whether aggSig is a valid aggregate signature of
// the one message msg by every key in pks (the IETF FastAggregateVerify). It
// returns false for an empty or nil-containing pks. The keys must have proven
// possession; see VerifyPossession.
func FastAggregateVerify(pks []*PublicKey, msg []byte, aggSig *Signature) bool {
	agg, err := AggregatePublicKeys(pks)
	if err != nil {
		return false
	}
	return Verify(agg, msg, aggSig)
}

// VerifyAggregated reports whether aggSig is a valid signature of msg under an
// already aggregated public key, such as a cached committee key with absent
// signers subtracted. It is one pairing check whatever the number of signers,
// and it is Verify under a name that says what the caller relies on: every
// key folded into aggPK has proven possession.
func VerifyAggregated(aggPK *PublicKey, msg []byte, aggSig *Signature) bool {
	return Verify(aggPK, msg, aggSig)
}
