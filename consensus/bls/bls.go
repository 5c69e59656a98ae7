package bls

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/herumi/bls-eth-go-binary/bls"
)

// Sizes of the compressed encodings (Ethereum / ZCash format).
const (
	SecretKeySize = 32 // big-endian scalar below the group order
	PublicKeySize = 48 // compressed G1 point
	SignatureSize = 96 // compressed G2 point
)

// SecretKey is a validator's BLS secret key. It is immutable after
// construction and safe for concurrent use. Its String method never reveals
// the key, so it can be logged by accident without harm. The zero value is not
// a key: obtain one from GenerateKey, SecretKeyFromBytes or LoadKeyFile.
type SecretKey struct {
	s bls.SecretKey
}

// PublicKey is a point of G1: one validator's key or an aggregate of several.
// It is immutable after construction and safe for concurrent use; Add and Sub
// return new values. The zero value is the identity, which verifies nothing.
type PublicKey struct {
	p bls.PublicKey
}

// Signature is a point of G2: one signature or an aggregate of several. It is
// immutable after construction and safe for concurrent use. The zero value is
// the identity, which verifies nothing.
type Signature struct {
	s bls.Sign
}

// GenerateKey returns a new secret key drawn from crypto/rand.
func GenerateKey() (*SecretKey, error) {
	return generateKey(rand.Reader)
}

func generateKey(r io.Reader) (*SecretKey, error) {
	// 64 uniform bytes reduced modulo the ~255-bit group order leave a bias
	// below 2^-250; the loop only repeats on the (2^-255) chance of zero.
	var buf [64]byte
	defer clear(buf[:])
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, fmt.Errorf("bls: generate key: %w", err)
		}
		var sk SecretKey
		if err := sk.s.SetLittleEndianMod(buf[:]); err != nil {
			return nil, fmt.Errorf("bls: generate key: %w", err)
		}
		if !sk.s.IsZero() {
			return &sk, nil
		}
	}
}

// SecretKeyFromBytes decodes a 32-byte big-endian secret key. It rejects
// zero and values not below the group order with ErrInvalidSecretKey.
func SecretKeyFromBytes(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeySize {
		return nil, fmt.Errorf("%w: secret key is %d bytes, want %d", ErrInvalidLength, len(b), SecretKeySize)
	}
	var sk SecretKey
	if err := sk.s.Deserialize(b); err != nil {
		// herumi's error would print the secret bytes; do not wrap it.
		return nil, ErrInvalidSecretKey
	}
	if sk.s.IsZero() {
		return nil, ErrInvalidSecretKey
	}
	return &sk, nil
}

// Bytes returns the 32-byte big-endian encoding of the secret key. The caller
// owns the slice and should clear it when done.
func (sk *SecretKey) Bytes() []byte {
	return sk.s.Serialize()
}

// PublicKey returns the public key of sk.
func (sk *SecretKey) PublicKey() *PublicKey {
	return &PublicKey{p: *sk.s.GetPublicKey()}
}

// Sign signs msg (hashed to G2 under the IETF proof-of-possession ciphersuite
// DST, as Ethereum does). Signing runs in constant time.
func (sk *SecretKey) Sign(msg []byte) *Signature {
	return &Signature{s: *sk.s.SignByte(msg)}
}

// String returns a fixed placeholder: secret keys never appear in logs.
func (sk *SecretKey) String() string { return "bls.SecretKey{redacted}" }

// GoString returns the same placeholder for %#v.
func (sk *SecretKey) GoString() string { return sk.String() }

// PublicKeyFromBytes decodes a 48-byte compressed G1 point. It rejects wrong
// lengths, non-canonical encodings, points not on the curve, the point at
// infinity and points outside the prime-order subgroup, each with its own
// sentinel error.
func PublicKeyFromBytes(b []byte) (*PublicKey, error) {
	if err := checkFlags(b, PublicKeySize, "public key"); err != nil {
		return nil, err
	}
	var pk PublicKey
	if err := pk.p.Deserialize(b); err != nil {
		return nil, fmt.Errorf("%w (public key)", classifyG1(b))
	}
	if pk.p.IsZero() {
		return nil, fmt.Errorf("%w (public key)", ErrIdentity)
	}
	return &pk, nil
}

// Bytes returns the 48-byte compressed encoding of pk.
func (pk *PublicKey) Bytes() []byte {
	return pk.p.Serialize()
}

// Equal reports whether pk and other are the same point. A nil key equals
// nothing.
func (pk *PublicKey) Equal(other *PublicKey) bool {
	if pk == nil || other == nil {
		return false
	}
	return pk.p.IsEqual(&other.p)
}

// String returns the 0x-prefixed hex of the compressed encoding.
func (pk *PublicKey) String() string {
	return "0x" + hex.EncodeToString(pk.Bytes())
}

// SignatureFromBytes decodes a 96-byte compressed G2 point with the same
// checks as PublicKeyFromBytes.
func SignatureFromBytes(b []byte) (*Signature, error) {
	if err := checkFlags(b, SignatureSize, "signature"); err != nil {
		return nil, err
	}
	var sig Signature
	if err := sig.s.Deserialize(b); err != nil {
		return nil, fmt.Errorf("%w (signature)", classifyG2(b))
	}
	if sig.s.IsZero() {
		return nil, fmt.Errorf("%w (signature)", ErrIdentity)
	}
	return &sig, nil
}

// Bytes returns the 96-byte compressed encoding of sig.
func (sig *Signature) Bytes() []byte {
	return sig.s.Serialize()
}

// Equal reports whether sig and other are the same point. A nil signature
// equals nothing.
func (sig *Signature) Equal(other *Signature) bool {
	if sig == nil || other == nil {
		return false
	}
	return sig.s.IsEqual(&other.s)
}

// String returns the 0x-prefixed hex of the compressed encoding.
func (sig *Signature) String() string {
	return "0x" + hex.EncodeToString(sig.Bytes())
}

// Verify reports whether sig is a valid signature of msg by pk. It returns
// false for nil arguments and for the identity public key. It costs one
// pairing check (two Miller loops and one final exponentiation).
func Verify(pk *PublicKey, msg []byte, sig *Signature) bool {
	if pk == nil || sig == nil || pk.p.IsZero() {
		return false
	}
	return sig.s.VerifyByte(&pk.p, msg)
}
