// Package bls provides the BLS12-381 signatures that validators use for
// votes, timeouts and quorum certificates, behind an API of our own so that
// the backend library can be swapped.
//
// # What it owns
//
//   - The key and signature types SecretKey, PublicKey and Signature, opaque
//     to callers, with their compressed encodings: secret key 32 bytes
//     (big-endian scalar), public key 48 bytes (G1), signature 96 bytes (G2),
//     in the Ethereum / ZCash format. The decoders (SecretKeyFromBytes,
//     PublicKeyFromBytes, SignatureFromBytes) are the only way bytes from
//     outside become keys or signatures; they reject wrong lengths,
//     non-canonical encodings, points off the curve, the point at infinity
//     and points outside the prime-order subgroup, each with a sentinel error
//     from errors.go. Every value is immutable after construction and safe for
//     concurrent use.
//   - Signing and verification in the IETF ciphersuite
//     BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_ (draft-irtf-cfrg-bls-signature),
//     which is what Ethereum's consensus layer uses: Sign, Verify.
//   - Same-message aggregation: AggregateSignatures, AggregatePublicKeys,
//     PublicKey.Add and PublicKey.Sub (to fold late signers into, or take
//     absent signers out of, a cached committee key), FastAggregateVerify and
//     VerifyAggregated. Verifying a certificate costs one pairing check
//     however many validators signed it.
//   - Proofs of possession: ProvePossession and VerifyPossession.
//   - The validator key file: SaveKeyFile, LoadKeyFile, EncodeKeyFile,
//     DecodeKeyFile.
//
// # Proof of possession and the rogue-key attack
//
// Same-message aggregation is only sound if every aggregated key has proven
// possession of its secret key; otherwise an attacker registers
// pk' = g·x − pk_victim and forges an "aggregate" of the victim and himself
// alone. Callers must therefore run VerifyPossession on every validator key
// before it joins a validator set, and FastAggregateVerify, VerifyAggregated
// and PublicKey.Add must only ever see keys that passed it.
//
// A proof of possession is a signature of the 48-byte compressed public key,
// hashed to G2 under its own domain separation tag, PossessionDST
// ("BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"), while ordinary messages
// are hashed under the ciphersuite's signing tag
// ("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"). This is the IETF
// PopProve/PopVerify, so a signature of any message, including the public
// key's own bytes, is never a valid proof of possession, and proofs made here
// verify with any other implementation of the standard (a test checks them
// against supranational/blst). We chose a distinct DST over a message prefix
// because a prefix would still let an ordinary signature of
// prefix||public key pass as a proof.
//
// # Backend and global state
//
// The backend is github.com/herumi/bls-eth-go-binary in Ethereum mode; all
// herumi-specific code that is not a one-line call lives in herumi.go. The
// library keeps process-wide state: the package's init function calls
// bls.Init(BLS12_381), selects the latest Ethereum mode and turns on subgroup
// checks on deserialisation, once, before any other code of this package can
// run (bls.Init is not safe to call concurrently; package initialisation is
// single-threaded). Nothing else in the binary may import herumi and change
// that state. The hash with a per-call DST and the constant-time G2
// multiplication used for proofs of possession call two functions of the
// bundled mcl C library that the Go binding does not wrap.
//
// # Key files
//
// SaveKeyFile writes JSON holding the public key and either the plain secret
// key (empty passphrase) or the secret encrypted with AES-256-GCM under a key
// derived by PBKDF2-HMAC-SHA256 (600,000 iterations, 32-byte random salt).
// PBKDF2 from the standard library was chosen because scrypt and Argon2
// (golang.org/x/crypto) are not direct requirements of this module. The file is
// written with mode 0600 through a temporary file, fsync and rename.
// LoadKeyFile refuses a file whose mode gives group or others any access and
// says how to fix it (chmod 600), and tells a wrong passphrase
// (ErrWrongPassphrase) apart from a malformed file and from a public key that
// does not belong to the secret (ErrKeyMismatch).
//
// # What it must not do
//
// It knows nothing of consensus: no votes, rounds, committees, bitmaps or
// validator sets; callers decide which keys may be aggregated and what is
// signed. It does no network I/O and starts no goroutines; its only file
// access is the key file functions. It never logs, and a SecretKey prints as
// a placeholder so that it cannot leak into logs. It does not expose herumi
// types, so callers cannot come to depend on the backend.
//
// # Use
//
//	sk, _ := bls.GenerateKey()
//	pop := bls.ProvePossession(sk) // published once with the key
//	sig := sk.Sign(voteBytes)
//
//	// verifier, once per validator key:
//	if err := bls.VerifyPossession(pk, pop); err != nil { reject the key }
//	// per certificate, with committeeKey cached = AggregatePublicKeys(committee):
//	ok := bls.VerifyAggregated(committeeKey.Sub(absent...), voteBytes, aggSig)
package bls
