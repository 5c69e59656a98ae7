package bls

import (
	"bytes"
	"errors"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; each fuzzer also adds a
// freshly generated valid input.

// decodeErrors are the sentinels a point decoder may return.
var decodeErrors = []error{ErrInvalidLength, ErrInvalidEncoding, ErrNotOnCurve, ErrIdentity, ErrNotInSubgroup}

func isOneOf(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzPublicKeyFromBytes checks that the decoder never panics, fails only with
// its sentinels, accepts only canonical encodings, and agrees with blst on
// which 48-byte strings are public keys (on the curve, in G1, not infinity).
func FuzzPublicKeyFromBytes(f *testing.F) {
	f.Add(mustKey(f).PublicKey().Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := PublicKeyFromBytes(b)
		blstOK := false
		if len(b) == PublicKeySize {
			p := new(blst.P1Affine).Uncompress(b)
			blstOK = p != nil && p.InG1() && !p.Equals(new(blst.P1Affine))
		}
		if err != nil {
			if !isOneOf(err, decodeErrors) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if pk != nil {
				t.Fatal("key returned with an error")
			}
			if blstOK {
				t.Fatalf("rejected %x (%v) but blst accepts it", b, err)
			}
			return
		}
		if !blstOK {
			t.Fatalf("accepted %x but blst rejects it", b)
		}
		if !bytes.Equal(pk.Bytes(), b) {
			t.Fatalf("non-canonical encoding accepted: in %x, out %x", b, pk.Bytes())
		}
	})
}

// FuzzSignatureFromBytes is FuzzPublicKeyFromBytes for signatures (G2).
func FuzzSignatureFromBytes(f *testing.F) {
	f.Add(mustKey(f).Sign([]byte("seed")).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := SignatureFromBytes(b)
		blstOK := false
		if len(b) == SignatureSize {
			p := new(blst.P2Affine).Uncompress(b)
			blstOK = p != nil && p.InG2() && !p.Equals(new(blst.P2Affine))
		}
		if err != nil {
			if !isOneOf(err, decodeErrors) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if sig != nil {
				t.Fatal("signature returned with an error")
			}
			if blstOK {
				t.Fatalf("rejected %x (%v) but blst accepts it", b, err)
			}
			return
		}
		if !blstOK {
			t.Fatalf("accepted %x but blst rejects it", b)
		}
		if !bytes.Equal(sig.Bytes(), b) {
			t.Fatalf("non-canonical encoding accepted: in %x, out %x", b, sig.Bytes())
		}
	})
}

// FuzzSecretKeyFromBytes checks the secret key decoder against blst.
func FuzzSecretKeyFromBytes(f *testing.F) {
	f.Add(mustKey(f).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, err := SecretKeyFromBytes(b)
		blstOK := len(b) == SecretKeySize && new(blst.SecretKey).Deserialize(b) != nil
		if err != nil {
			if !errors.Is(err, ErrInvalidLength) && !errors.Is(err, ErrInvalidSecretKey) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if blstOK {
				t.Fatalf("rejected %x but blst accepts it", b)
			}
			return
		}
		if !blstOK {
			t.Fatalf("accepted %x but blst rejects it", b)
		}
		if !bytes.Equal(sk.Bytes(), b) {
			t.Fatalf("round trip changed the key")
		}
	})
}

// keyFileErrors are the sentinels DecodeKeyFile may return.
var keyFileErrors = []error{
	ErrMalformedKeyFile, ErrWrongPassphrase, ErrPassphraseRequired, ErrNotEncrypted, ErrKeyMismatch,
}

// FuzzDecodeKeyFile checks that the key file decoder never panics, fails only
// with its sentinels, and that whatever it accepts is a consistent key that
// survives a re-encoding.
func FuzzDecodeKeyFile(f *testing.F) {
	sk := mustKey(f)
	f.Add(lightKeyFile(f, sk, nil), []byte(nil))
	f.Add(lightKeyFile(f, sk, []byte("pw")), []byte("pw"))
	f.Fuzz(func(t *testing.T, data, passphrase []byte) {
		sk, err := DecodeKeyFile(data, passphrase)
		if err != nil {
			if !isOneOf(err, keyFileErrors) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if sk != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		again, err := DecodeKeyFile(lightKeyFile(t, sk, passphrase), passphrase)
		if err != nil {
			t.Fatalf("re-encoded key file does not decode: %v", err)
		}
		if !bytes.Equal(again.Bytes(), sk.Bytes()) {
			t.Fatal("re-encoded key file decodes to another key")
		}
	})
}
