package bls

import (
	"fmt"

	"github.com/herumi/bls-eth-go-binary/bls"
)

// PossessionDST is the domain separation tag under which a proof of
// possession hashes the public key: the PopProve tag of the IETF ciphersuite
// BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_ (draft-irtf-cfrg-bls-signature,
// section 4.2.3). Ordinary signatures use that ciphersuite's signing tag, so no
// signature of any message, including the public key's own bytes, is a valid
// proof of possession.
const PossessionDST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"

// ProvePossession returns sk's proof of possession: a signature of the
// compressed public key under PossessionDST. A validator publishes it once,
// when it registers its key.
func ProvePossession(sk *SecretKey) *Signature {
	h, err := hashToG2(sk.PublicKey().Bytes(), PossessionDST)
	if err != nil {
		// The message and DST are fixed-size and non-empty; the backend
		// cannot fail on them.
		panic(err)
	}
	pop := mulG2CT(&h, &sk.s)
	return &Signature{s: *bls.CastToSign(&pop)}
}

// VerifyPossession checks that pop proves possession of the secret key of
// pk. A validator's key may join an aggregate only after this check passed:
// it is what stops a rogue key (chosen as the difference of a target key and
// the attacker's) from forging a same-message aggregate.
func VerifyPossession(pk *PublicKey, pop *Signature) error {
	if pk == nil || pop == nil {
		return ErrNilInput
	}
	if pk.p.IsZero() {
		return fmt.Errorf("%w: %w", ErrInvalidPossession, ErrIdentity)
	}
	h, err := hashToG2(pk.Bytes(), PossessionDST)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPossession, err)
	}
	// e(pop, g1) == e(H(pk), pk)
	if !bls.VerifyPairing(&pop.s, bls.CastToSign(&h), &pk.p) {
		return ErrInvalidPossession
	}
	return nil
}
