package bls

import (
	"errors"
	"testing"
)

func TestPossession(t *testing.T) {
	sk, other := mustKey(t), mustKey(t)
	pk := sk.PublicKey()
	pop := ProvePossession(sk)

	tests := []struct {
		name string
		pk   *PublicKey
		pop  *Signature
		want error // nil: valid
	}{
		{"valid", pk, pop, nil},
		{"valid after encoding round trip", mustDecodePK(t, pk.Bytes()), mustDecodeSig(t, pop.Bytes()), nil},
		{"proof of another key", pk, ProvePossession(other), ErrInvalidPossession},
		{"proof checked against another key", other.PublicKey(), pop, ErrInvalidPossession},
		{"plain signature of the public key bytes", pk, sk.Sign(pk.Bytes()), ErrInvalidPossession},
		{"herumi's GetPop (signing DST)", pk, &Signature{s: *sk.s.GetPop()}, ErrInvalidPossession},
		{"signature of another message", pk, sk.Sign([]byte("hello")), ErrInvalidPossession},
		{"aggregate of two proofs", pk, pop.Add(ProvePossession(other)), ErrInvalidPossession},
		{"identity key", pk.Sub(pk), pop, ErrInvalidPossession},
		{"nil key", nil, pop, ErrNilInput},
		{"nil proof", pk, nil, ErrNilInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyPossession(tc.pk, tc.pop); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyPossession err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("a proof is not a signature of the key bytes", func(t *testing.T) {
		if Verify(pk, pk.Bytes(), pop) {
			t.Fatal("proof of possession verifies as an ordinary signature")
		}
	})
	t.Run("herumi's GetPop is a plain signature", func(t *testing.T) {
		// Documents why we do not use herumi's proof of possession: it uses
		// the message DST, so it equals an ordinary signature of the key.
		var herumiPop Signature
		herumiPop.s = *sk.s.GetPop()
		if !herumiPop.Equal(sk.Sign(pk.Bytes())) {
			t.Skip("herumi's GetPop changed; the case above still checks it is rejected")
		}
	})
}

func mustDecodePK(tb testing.TB, b []byte) *PublicKey {
	tb.Helper()
	pk, err := PublicKeyFromBytes(b)
	if err != nil {
		tb.Fatal(err)
	}
	return pk
}

func mustDecodeSig(tb testing.TB, b []byte) *Signature {
	tb.Helper()
	sig, err := SignatureFromBytes(b)
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}
