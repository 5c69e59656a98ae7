package bls

import (
	"fmt"
	"math/big"
)

// Flag bits in the first byte of a compressed point (ZCash / Ethereum format).
const (
	flagCompressed = 0x80
	flagInfinity   = 0x40
	flagSign       = 0x20
	flagMask       = flagCompressed | flagInfinity | flagSign
)

// fieldModulus is p, the BLS12-381 base field modulus. A test checks it
// against the backend's value.
var fieldModulus, _ = new(big.Int).SetString(
	"1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16)

// checkFlags validates length and flag bits before the backend sees the
// bytes, so that the identity point and uncompressed or non-canonical flags
// get their own errors whatever the backend would have said.
func checkFlags(b []byte, size int, what string) error {
	if len(b) != size {
		return fmt.Errorf("%w: %s is %d bytes, want %d", ErrInvalidLength, what, len(b), size)
	}
	if b[0]&flagCompressed == 0 {
		return fmt.Errorf("%w: %s lacks the compression flag", ErrInvalidEncoding, what)
	}
	if b[0]&flagInfinity != 0 {
		if b[0] != flagCompressed|flagInfinity || !allZero(b[1:]) {
			return fmt.Errorf("%w: %s has the infinity flag with non-zero bits", ErrInvalidEncoding, what)
		}
		return fmt.Errorf("%w (%s)", ErrIdentity, what)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// coordinate returns the big-endian field element in b with the flag bits of
// the first byte masked off, and whether it is canonical (below p).
func coordinate(b []byte, first bool) (*big.Int, bool) {
	buf := append([]byte(nil), b...)
	if first {
		buf[0] &^= flagMask
	}
	x := new(big.Int).SetBytes(buf)
	return x, x.Cmp(fieldModulus) < 0
}

// classifyG1 explains why the backend rejected a 48-byte compressed G1
// encoding whose flags passed checkFlags. It runs only on the failure path:
// a canonical x with x^3+4 a square in Fp is a point on the curve, so the
// remaining reason is the subgroup check.
func classifyG1(b []byte) error {
	x, ok := coordinate(b, true)
	if !ok {
		return fmt.Errorf("%w: x coordinate not below the field modulus", ErrInvalidEncoding)
	}
	p := fieldModulus
	rhs := new(big.Int).Exp(x, big.NewInt(3), p)
	rhs.Add(rhs, big.NewInt(4)).Mod(rhs, p)
	if big.Jacobi(rhs, p) == -1 {
		return ErrNotOnCurve
	}
	return ErrNotInSubgroup
}

// classifyG2 is classifyG1 for a 96-byte compressed G2 encoding, x = c0 + c1·i
// with c1 first. Over Fp2 (p ≡ 3 mod 4) an element is a square iff its norm
// c0² + c1² is a square in Fp.
func classifyG2(b []byte) error {
	c1, ok1 := coordinate(b[:48], true)
	c0, ok0 := coordinate(b[48:], false)
	if !ok1 || !ok0 {
		return fmt.Errorf("%w: x coordinate not below the field modulus", ErrInvalidEncoding)
	}
	p := fieldModulus
	// x³ = (c0³ − 3·c0·c1²) + (3·c0²·c1 − c1³)·i; the curve adds 4 + 4i.
	c0sq := new(big.Int).Mul(c0, c0)
	c1sq := new(big.Int).Mul(c1, c1)
	re := new(big.Int).Mul(c0, new(big.Int).Sub(c0sq, new(big.Int).Mul(big.NewInt(3), c1sq)))
	im := new(big.Int).Mul(c1, new(big.Int).Sub(new(big.Int).Mul(big.NewInt(3), c0sq), c1sq))
	re.Add(re, big.NewInt(4)).Mod(re, p)
	im.Add(im, big.NewInt(4)).Mod(im, p)
	norm := new(big.Int).Mul(re, re)
	norm.Add(norm, new(big.Int).Mul(im, im)).Mod(norm, p)
	if big.Jacobi(norm, p) == -1 {
		return ErrNotOnCurve
	}
	return ErrNotInSubgroup
}
