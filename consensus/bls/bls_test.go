package bls

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/herumi/bls-eth-go-binary/bls"
)

// mustKey returns a fresh secret key or fails the test.
func mustKey(tb testing.TB) *SecretKey {
	tb.Helper()
	sk, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return sk
}

// mustKeys returns n fresh secret keys and their public keys.
func mustKeys(tb testing.TB, n int) ([]*SecretKey, []*PublicKey) {
	tb.Helper()
	sks := make([]*SecretKey, n)
	pks := make([]*PublicKey, n)
	for i := range sks {
		sks[i] = mustKey(tb)
		pks[i] = sks[i].PublicKey()
	}
	return sks, pks
}

func TestSignVerify(t *testing.T) {
	sk, other := mustKey(t), mustKey(t)
	msg := []byte("vote: height 7 round 2 block 0xabc")
	sig := sk.Sign(msg)

	tests := []struct {
		name string
		pk   *PublicKey
		msg  []byte
		sig  *Signature
		want bool
	}{
		{"valid", sk.PublicKey(), msg, sig, true},
		{"empty message signs and verifies", sk.PublicKey(), nil, sk.Sign(nil), true},
		{"wrong message", sk.PublicKey(), []byte("vote: height 7 round 2 block 0xabd"), sig, false},
		{"message with extra byte", sk.PublicKey(), append(bytes.Clone(msg), 0), sig, false},
		{"wrong key", other.PublicKey(), msg, sig, false},
		{"signature by another key", sk.PublicKey(), msg, other.Sign(msg), false},
		{"nil key", nil, msg, sig, false},
		{"nil signature", sk.PublicKey(), msg, nil, false},
		{"identity key", sk.PublicKey().Sub(sk.PublicKey()), msg, sig, false},
		{"zero-value key", &PublicKey{}, msg, sig, false},
		{"zero-value signature", sk.PublicKey(), msg, &Signature{}, false},
		{"zero-value key and signature", &PublicKey{}, msg, &Signature{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verify(tc.pk, tc.msg, tc.sig); got != tc.want {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSignIsDeterministic(t *testing.T) {
	sk := mustKey(t)
	a, b := sk.Sign([]byte("m")), sk.Sign([]byte("m"))
	if !a.Equal(b) || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two signatures of one message differ")
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	sk := mustKey(t)
	pk := sk.PublicKey()
	sig := sk.Sign([]byte("round trip"))

	t.Run("secret key", func(t *testing.T) {
		b := sk.Bytes()
		if len(b) != SecretKeySize {
			t.Fatalf("len = %d, want %d", len(b), SecretKeySize)
		}
		got, err := SecretKeyFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), b) || !got.PublicKey().Equal(pk) {
			t.Fatal("secret key changed in round trip")
		}
	})
	t.Run("public key", func(t *testing.T) {
		b := pk.Bytes()
		if len(b) != PublicKeySize {
			t.Fatalf("len = %d, want %d", len(b), PublicKeySize)
		}
		got, err := PublicKeyFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(pk) || !bytes.Equal(got.Bytes(), b) {
			t.Fatal("public key changed in round trip")
		}
	})
	t.Run("signature", func(t *testing.T) {
		b := sig.Bytes()
		if len(b) != SignatureSize {
			t.Fatalf("len = %d, want %d", len(b), SignatureSize)
		}
		got, err := SignatureFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(sig) || !bytes.Equal(got.Bytes(), b) {
			t.Fatal("signature changed in round trip")
		}
	})
	t.Run("aggregate key encodes like a plain key", func(t *testing.T) {
		_, pks := mustKeys(t, 3)
		agg, err := AggregatePublicKeys(pks)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PublicKeyFromBytes(agg.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(agg) {
			t.Fatal("aggregate key changed in round trip")
		}
	})
}

func TestFieldModulusMatchesBackend(t *testing.T) {
	want, ok := new(big.Int).SetString(bls.GetFieldOrder(), 10)
	if !ok {
		t.Fatalf("backend field order %q does not parse", bls.GetFieldOrder())
	}
	if fieldModulus.Cmp(want) != 0 {
		t.Fatalf("fieldModulus = %x, backend has %x", fieldModulus, want)
	}
}

// withFlags returns a copy of b with its first byte's flag bits replaced.
func withFlags(b []byte, flags byte) []byte {
	out := bytes.Clone(b)
	out[0] = out[0]&^flagMask | flags
	return out
}

// modulusBytes returns p big-endian in size bytes (48 for a G1 x, the c1 half
// of a G2 x) with the compression flag set.
func modulusEncoding(size int) []byte {
	out := make([]byte, size)
	fieldModulus.FillBytes(out[size-48 : size])
	if size == 96 {
		// c1 = p, c0 = 0
		copy(out, out[48:])
		clear(out[48:])
	}
	out[0] |= flagCompressed
	return out
}

func TestPublicKeyFromBytesRejects(t *testing.T) {
	valid := mustKey(t).PublicKey().Bytes()
	infinity := make([]byte, PublicKeySize)
	infinity[0] = flagCompressed | flagInfinity
	vec := findG1Vectors(t)

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrInvalidLength},
		{"empty", []byte{}, ErrInvalidLength},
		{"too short", valid[:47], ErrInvalidLength},
		{"too long", append(bytes.Clone(valid), 0), ErrInvalidLength},
		{"signature length", make([]byte, SignatureSize), ErrInvalidLength},
		{"all zero (no compression flag)", make([]byte, PublicKeySize), ErrInvalidEncoding},
		{"uncompressed flag on a valid key", withFlags(valid, valid[0]&flagSign), ErrInvalidEncoding},
		{"infinity", infinity, ErrIdentity},
		{"infinity with sign bit", withFlags(infinity, flagCompressed|flagInfinity|flagSign), ErrInvalidEncoding},
		{"infinity with non-zero x", append([]byte{0xc0}, bytes.Repeat([]byte{1}, 47)...), ErrInvalidEncoding},
		{"x equal to the modulus", modulusEncoding(PublicKeySize), ErrInvalidEncoding},
		{"all ones", bytes.Repeat([]byte{0xff}, PublicKeySize), ErrInvalidEncoding},
		{"not on curve", vec.notOnCurve, ErrNotOnCurve},
		{"on curve, outside the subgroup", vec.offSubgroup, ErrNotInSubgroup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pk, err := PublicKeyFromBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if pk != nil {
				t.Fatal("got a key with an error")
			}
		})
	}
}

func TestSignatureFromBytesRejects(t *testing.T) {
	valid := mustKey(t).Sign([]byte("m")).Bytes()
	infinity := make([]byte, SignatureSize)
	infinity[0] = flagCompressed | flagInfinity
	vec := findG2Vectors(t)

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrInvalidLength},
		{"too short", valid[:95], ErrInvalidLength},
		{"too long", append(bytes.Clone(valid), 0), ErrInvalidLength},
		{"public key length", make([]byte, PublicKeySize), ErrInvalidLength},
		{"all zero (no compression flag)", make([]byte, SignatureSize), ErrInvalidEncoding},
		{"uncompressed flag on a valid signature", withFlags(valid, valid[0]&flagSign), ErrInvalidEncoding},
		{"infinity", infinity, ErrIdentity},
		{"infinity with non-zero x", append([]byte{0xc0}, bytes.Repeat([]byte{1}, 95)...), ErrInvalidEncoding},
		{"x.c1 equal to the modulus", modulusEncoding(SignatureSize), ErrInvalidEncoding},
		{"all ones", bytes.Repeat([]byte{0xff}, SignatureSize), ErrInvalidEncoding},
		{"not on curve", vec.notOnCurve, ErrNotOnCurve},
		{"on curve, outside the subgroup", vec.offSubgroup, ErrNotInSubgroup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := SignatureFromBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if sig != nil {
				t.Fatal("got a signature with an error")
			}
		})
	}
}

func TestSecretKeyFromBytesRejects(t *testing.T) {
	// r, the group order, big-endian.
	order, ok := new(big.Int).SetString(bls.GetCurveOrder(), 10)
	if !ok {
		t.Fatal("backend curve order does not parse")
	}
	be := func(x *big.Int) []byte { return x.FillBytes(make([]byte, SecretKeySize)) }
	one := big.NewInt(1)

	tests := []struct {
		name string
		in   []byte
		want error // nil: accepted
	}{
		{"nil", nil, ErrInvalidLength},
		{"31 bytes", make([]byte, 31), ErrInvalidLength},
		{"33 bytes", make([]byte, 33), ErrInvalidLength},
		{"zero", make([]byte, SecretKeySize), ErrInvalidSecretKey},
		{"group order", be(order), ErrInvalidSecretKey},
		{"group order plus one", be(new(big.Int).Add(order, one)), ErrInvalidSecretKey},
		{"all ones", bytes.Repeat([]byte{0xff}, SecretKeySize), ErrInvalidSecretKey},
		{"one", be(one), nil},
		{"group order minus one", be(new(big.Int).Sub(order, one)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sk, err := SecretKeyFromBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !bytes.Equal(sk.Bytes(), tc.in) {
				t.Fatalf("Bytes = %x, want %x", sk.Bytes(), tc.in)
			}
		})
	}
}

func TestSecretKeyNeverPrinted(t *testing.T) {
	sk := mustKey(t)
	hexKey := fmt.Sprintf("%x", sk.Bytes())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		t.Run(verb, func(t *testing.T) {
			out := fmt.Sprintf(verb, sk)
			if bytes.Contains([]byte(out), []byte(hexKey[:16])) || out == "" {
				t.Fatalf("Sprintf(%q) = %q leaks or is empty", verb, out)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestGenerateKey(t *testing.T) {
	t.Run("distinct keys", func(t *testing.T) {
		a, b := mustKey(t), mustKey(t)
		if bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("two generated keys are equal")
		}
	})
	t.Run("entropy failure is an error", func(t *testing.T) {
		if _, err := generateKey(failingReader{}); err == nil {
			t.Fatal("generateKey with a failing reader succeeded")
		}
	})
	t.Run("zero entropy gives no zero key", func(t *testing.T) {
		// 64 zero bytes reduce to zero; the generator must draw again, and
		// the reader then fails.
		r := bytes.NewReader(make([]byte, 64))
		if sk, err := generateKey(r); err == nil {
			t.Fatalf("got key %x from all-zero entropy", sk.Bytes())
		}
	})
}

// TestConcurrentUse signs, verifies and aggregates from many goroutines on
// shared values; run with -race.
func TestConcurrentUse(t *testing.T) {
	sks, pks := mustKeys(t, 8)
	msg := []byte("shared")
	sigs := make([]*Signature, len(sks))
	for i, sk := range sks {
		sigs[i] = sk.Sign(msg)
	}
	agg, err := AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 16 {
		wg.Go(func() {
			sk := sks[g%len(sks)]
			if !Verify(sk.PublicKey(), msg, sk.Sign(msg)) {
				errs <- "Verify failed"
			}
			if !FastAggregateVerify(pks, msg, agg) {
				errs <- "FastAggregateVerify failed"
			}
			if err := VerifyPossession(pks[g%len(pks)], ProvePossession(sk)); err != nil {
				errs <- err.Error()
			}
			_ = pks[0].Add(pks[1]).Sub(pks[1]).Bytes()
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func mustHerumiHash(t *testing.T, msg []byte) *bls.Sign {
	t.Helper()
	h := bls.HashAndMapToSignature(msg)
	if h == nil {
		t.Fatal("herumi hash failed")
	}
	return h
}

func castSign(g *bls.G2) *bls.Sign { return bls.CastToSign(g) }
