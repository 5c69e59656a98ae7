package bls

// This file holds everything specific to github.com/herumi/bls-eth-go-binary
// that is not a one-line call: the process-wide initialisation and two C
// functions of the bundled mcl library that the Go binding does not wrap.
// Swapping the backend (for example to github.com/supranational/blst) means
// rewriting this file and the bodies of the methods that call herumi; the
// exported API does not change.

/*
#include <stddef.h>

// Declared here rather than by including <mcl/bn.h>: the header lives in the
// herumi module's directory, which cgo cannot name portably. The symbols are
// defined in libbls384_256.a, which the herumi package links. Pointers are
// passed as void* to the C structs that back herumi's bls.G2 and bls.Fr
// (mclBnG2, mclBnFr); mclSize is size_t outside Emscripten.
int mclBnG2_hashAndMapToWithDst(void *x, const void *buf, size_t bufSize, const char *dst, size_t dstSize);
void mclBnG2_mulCT(void *z, const void *x, const void *y);
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/herumi/bls-eth-go-binary/bls"
)

// init configures the herumi library once per process, before any other
// function of this package can run. bls.Init is documented as not thread
// safe; package initialisation runs in a single goroutine, which makes this
// the one safe place for it. Nothing else in the binary may call herumi's
// global setters (Init, SetETHmode, VerifyPublicKeyOrder, SetDstG2, ...):
// they would change the behaviour of every key and signature in the process.
func init() {
	if err := initHerumi(); err != nil {
		// Without a working curve no key can be checked; carrying on would
		// turn every later call into a silent failure.
		panic(err)
	}
}

func initHerumi() error {
	if err := bls.Init(bls.BLS12_381); err != nil {
		return fmt.Errorf("bls: init BLS12-381: %w", err)
	}
	// Ethereum mode, latest revision: public keys in G1 (48 bytes), signatures
	// in G2 (96 bytes), hash-to-curve per RFC 9380 with the IETF
	// proof-of-possession ciphersuite DST for ordinary signatures.
	if err := bls.SetETHmode(bls.EthModeLatest); err != nil {
		return fmt.Errorf("bls: set ETH mode: %w", err)
	}
	// Subgroup checks on every deserialisation. They are the default in ETH
	// mode; setting them states the dependency instead of relying on it.
	bls.VerifyPublicKeyOrder(true)
	bls.VerifySignatureOrder(true)
	return nil
}

// hashToG2 hashes msg to a point of G2 with the RFC 9380 suite
// BLS12381G2_XMD:SHA-256_SSWU_RO_ under the given domain separation tag. Unlike
// herumi's HashAndMapTo it takes the DST per call instead of from global state,
// so two domains can be used concurrently.
func hashToG2(msg []byte, dst string) (bls.G2, error) {
	var out bls.G2
	if len(dst) == 0 {
		return out, fmt.Errorf("bls: empty domain separation tag")
	}
	d := []byte(dst)
	var m unsafe.Pointer
	if len(msg) > 0 {
		m = unsafe.Pointer(&msg[0])
	}
	if C.mclBnG2_hashAndMapToWithDst(unsafe.Pointer(&out), m, C.size_t(len(msg)),
		(*C.char)(unsafe.Pointer(&d[0])), C.size_t(len(d))) != 0 {
		return out, fmt.Errorf("bls: hash to G2 failed")
	}
	return out, nil
}

// mulG2CT returns p multiplied by the secret scalar sk in constant time.
func mulG2CT(p *bls.G2, sk *bls.SecretKey) bls.G2 {
	var out bls.G2
	C.mclBnG2_mulCT(unsafe.Pointer(&out), unsafe.Pointer(p), unsafe.Pointer(bls.CastFromSecretKey(sk)))
	return out
}
