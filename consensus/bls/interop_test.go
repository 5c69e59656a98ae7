package bls

// Cross-checks against supranational/blst, the library we may swap to and the
// one most Ethereum consensus clients use. blst is already in the module graph;
// it is imported by this test only.

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

const (
	// signDST is the signing tag of the ciphersuite herumi's ETH mode uses.
	signDST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
	// popDST is the IETF PopProve tag, spelled out here so that a change to
	// PossessionDST fails the interop test.
	popDST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
	// rfc9380DST is the DST of the RFC 9380 test vectors for
	// BLS12381G2_XMD:SHA-256_SSWU_RO_.
	rfc9380DST = "QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
)

// TestHashToG2KnownAnswer pins the per-call DST hash (used by proofs of
// possession) to RFC 9380 appendix J.10.1 and to herumi's default hash.
func TestHashToG2KnownAnswer(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string // "1 x.c0 x.c1 y.c0 y.c1" in herumi's base-16 form
	}{
		{"empty", "", "1 141ebfbdca40eb85b87142e130ab689c673cf60f1a3e98d69335266f30d9b8d4ac44c1038e9dcdd5393faf5c41fb78a" +
			" 5cb8437535e20ecffaef7752baddf98034139c38452458baeefab379ba13dff5bf5dd71b72418717047f5b0f37da03d" +
			" 503921d7f6a12805e72940b963c0cf3471c7b2a524950ca195d11062ee75ec076daf2d4bc358c4b190c0c98064fdd92" +
			" 12424ac32561493f3fe3c260708a12b7c620e7be00099a974e259ddc7d1f6395c3c811cdd19f1e8dbf3e9ecfdcbab8d6"},
		{"abc", "abc", "1 2c2d18e033b960562aae3cab37a27ce00d80ccd5ba4b7fe0e7a210245129dbec7780ccc7954725f4168aff2787776e6" +
			" 139cddbccdc5e91b9623efd38c49f81a6f83f175e80b06fc374de9eb4b41dfe4ca3a230ed250fbe3a2acf73a41177fd8" +
			" 1787327b68159716a37440985269cf584bcb1e621d3a7202be6ea05c4cfe244aeb197642555a0645fb87bf7466b2ba48" +
			" aa65dae3c8d732d10ecd2c50f8a1baf3001578f71c694e03866e9f3d49ac1e1ce70dd94a733534f106d4cec0eddd16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := hashToG2([]byte(tc.msg), rfc9380DST)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.GetString(16); got != tc.want {
				t.Fatalf("hash_to_curve(%q)\n got %s\nwant %s", tc.msg, got, tc.want)
			}
		})
	}
	t.Run("default DST equals herumi's own hash", func(t *testing.T) {
		h, err := hashToG2([]byte("vote"), signDST)
		if err != nil {
			t.Fatal(err)
		}
		var want Signature
		want.s = *mustHerumiHash(t, []byte("vote"))
		if got := (&Signature{s: *castSign(&h)}); !got.Equal(&want) {
			t.Fatal("hashToG2 with the signing DST differs from herumi's HashAndMapToSignature")
		}
	})
}

func TestInteropWithBlst(t *testing.T) {
	for i := range 5 {
		t.Run(fmt.Sprintf("key %d", i), func(t *testing.T) {
			sk := mustKey(t)
			bsk := new(blst.SecretKey).Deserialize(sk.Bytes())
			if bsk == nil {
				t.Fatal("blst rejects the secret key")
			}
			msg := []byte{byte(i), 'v', 'o', 't', 'e'}
			t.Run("public key", func(t *testing.T) {
				want := new(blst.P1Affine).From(bsk).Compress()
				if got := sk.PublicKey().Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("public key\n got %x\nwant %x", got, want)
				}
			})
			t.Run("signature", func(t *testing.T) {
				want := new(blst.P2Affine).Sign(bsk, msg, []byte(signDST)).Compress()
				if got := sk.Sign(msg).Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("signature\n got %x\nwant %x", got, want)
				}
			})
			t.Run("proof of possession", func(t *testing.T) {
				want := new(blst.P2Affine).Sign(bsk, sk.PublicKey().Bytes(), []byte(popDST)).Compress()
				if got := ProvePossession(sk).Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("proof of possession\n got %x\nwant %x", got, want)
				}
			})
		})
	}
}

// pointVectors are encodings that only a subgroup or curve check can reject.
type pointVectors struct {
	notOnCurve  []byte // canonical x with no point on the curve
	offSubgroup []byte // a point on the curve outside the r-torsion subgroup
}

// findG1Vectors searches small x for both kinds of bad G1 point, with blst as
// the independent judge of "on the curve" and "in the subgroup". The search
// starts at 1: blst refuses x = 0 as an encoding although (0, ±2) is on the
// curve (outside the subgroup, which is what our decoder reports).
func findG1Vectors(t *testing.T) pointVectors {
	t.Helper()
	var v pointVectors
	for x := int64(1); x < 1000 && (v.notOnCurve == nil || v.offSubgroup == nil); x++ {
		b := make([]byte, PublicKeySize)
		big.NewInt(x).FillBytes(b)
		b[0] |= flagCompressed
		p := new(blst.P1Affine).Uncompress(b)
		switch {
		case p == nil && v.notOnCurve == nil:
			v.notOnCurve = b
		case p != nil && !p.InG1() && v.offSubgroup == nil:
			v.offSubgroup = b
		}
	}
	if v.notOnCurve == nil || v.offSubgroup == nil {
		t.Fatal("no G1 test vectors found")
	}
	return v
}

// findG2Vectors is findG1Vectors for G2, varying x.c0.
func findG2Vectors(t *testing.T) pointVectors {
	t.Helper()
	var v pointVectors
	for x := int64(1); x < 1000 && (v.notOnCurve == nil || v.offSubgroup == nil); x++ {
		b := make([]byte, SignatureSize)
		big.NewInt(x).FillBytes(b[48:])
		b[0] |= flagCompressed
		p := new(blst.P2Affine).Uncompress(b)
		switch {
		case p == nil && v.notOnCurve == nil:
			v.notOnCurve = b
		case p != nil && !p.InG2() && v.offSubgroup == nil:
			v.offSubgroup = b
		}
	}
	if v.notOnCurve == nil || v.offSubgroup == nil {
		t.Fatal("no G2 test vectors found")
	}
	return v
}
