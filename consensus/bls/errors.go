package bls

import "errors"

// Decoding errors. Every decoder wraps one of these with %w, so callers can
// tell a malformed message from a well-formed but unacceptable point.
var (
	// ErrInvalidLength reports an encoding of the wrong size.
	ErrInvalidLength = errors.New("bls: wrong encoding length")
	// ErrInvalidEncoding reports bytes that are not a canonical compressed
	// encoding: missing compression flag, bad flag bits, or a coordinate not
	// below the field modulus.
	ErrInvalidEncoding = errors.New("bls: malformed point encoding")
	// ErrNotOnCurve reports a canonical coordinate that has no point on the curve.
	ErrNotOnCurve = errors.New("bls: point not on the curve")
	// ErrIdentity reports the point at infinity, which is never a valid key
	// or signature.
	ErrIdentity = errors.New("bls: point at infinity")
	// ErrNotInSubgroup reports a point on the curve outside the prime-order
	// subgroup.
	ErrNotInSubgroup = errors.New("bls: point not in the prime-order subgroup")
	// ErrInvalidSecretKey reports a secret key that is zero or not below the
	// group order.
	ErrInvalidSecretKey = errors.New("bls: secret key is zero or not below the group order")
)

// Aggregation and verification errors.
var (
	// ErrEmptyAggregate reports an attempt to aggregate nothing.
	ErrEmptyAggregate = errors.New("bls: nothing to aggregate")
	// ErrNilInput reports a nil key or signature where one is required.
	ErrNilInput = errors.New("bls: nil key or signature")
	// ErrInvalidPossession reports a proof of possession that does not verify
	// against its public key.
	ErrInvalidPossession = errors.New("bls: invalid proof of possession")
)

// Key file errors.
var (
	// ErrInsecureKeyFile reports a key file readable or writable by group or
	// others. The wrapping error names the mode and the fix.
	ErrInsecureKeyFile = errors.New("bls: key file permissions are too open")
	// ErrMalformedKeyFile reports a key file that is not valid JSON in the
	// expected shape.
	ErrMalformedKeyFile = errors.New("bls: malformed key file")
	// ErrWrongPassphrase reports a passphrase that does not decrypt the key
	// file (AES-GCM authentication failed: wrong passphrase or tampered file).
	ErrWrongPassphrase = errors.New("bls: wrong passphrase or corrupted key file")
	// ErrPassphraseRequired reports an encrypted key file loaded without a
	// passphrase.
	ErrPassphraseRequired = errors.New("bls: key file is encrypted, a passphrase is required")
	// ErrNotEncrypted reports a passphrase given for a key file that stores
	// its secret in plain text; refusing it keeps an operator from believing
	// the key is protected when it is not.
	ErrNotEncrypted = errors.New("bls: key file is not encrypted but a passphrase was given")
	// ErrKeyMismatch reports a key file whose public key is not the public key
	// of its secret key.
	ErrKeyMismatch = errors.New("bls: key file public key does not match its secret key")
)
