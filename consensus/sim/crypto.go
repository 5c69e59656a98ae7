package sim

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/consensus"
)

// fastCrypto is a signature scheme for simulation only: validator i's
// signature of m is keccak(secret_i || m), and an aggregate is the XOR of
// its members' signatures. It is insecure (anyone holding the secrets can
// sign; XOR aggregates can be rearranged), but in the simulator only each
// validator's own instance signs, and it is a thousand times faster than
// BLS, which lets the simulator run many seeds. The real BLS scheme is
// exercised by the consensus package's own tests and by the node.
//
// onSign, if set, sees every message signed: the simulator's checker.
type fastCrypto struct {
	self    uint32
	secrets [][32]byte
	onSign  func(msg []byte)
	// aggs, shared by a simulation's instances, remembers the aggregate
	// each (signers, message) pair must have: every validator verifies
	// every certificate, and recomputing one signature per signer made
	// this most of a 100-validator run's time. It is a pure function's
	// cache: it changes no result.
	aggs *aggCache
}

// aggCache maps keccak(signers || message) to the expected aggregate. It
// is emptied when full, to bound memory on long runs.
type aggCache struct{ m map[[32]byte][32]byte }

const aggCacheMax = 1 << 16

func newFastKeys(n int, seed uint64) [][32]byte {
	out := make([][32]byte, n)
	for i := range out {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], seed)
		binary.BigEndian.PutUint64(b[8:], uint64(i))
		copy(out[i][:], crypto.Keccak256([]byte("sim key"), b[:]))
	}
	return out
}

func (f *fastCrypto) sigOf(i uint32, msg []byte) []byte {
	return crypto.Keccak256(f.secrets[i][:], msg)
}

func (f *fastCrypto) Sign(msg []byte) []byte {
	if f.onSign != nil {
		f.onSign(msg)
	}
	return f.sigOf(f.self, msg)
}

func (f *fastCrypto) Verify(i uint32, msg, sig []byte) bool {
	return int(i) < len(f.secrets) && subtle.ConstantTimeCompare(f.sigOf(i, msg), sig) == 1
}

func (f *fastCrypto) Aggregate(sigs [][]byte) ([]byte, error) {
	if len(sigs) == 0 {
		return nil, errors.New("sim: nothing to aggregate")
	}
	out := make([]byte, 32)
	for _, s := range sigs {
		if len(s) != 32 {
			return nil, errors.New("sim: malformed signature")
		}
		for i := range out {
			out[i] ^= s[i]
		}
	}
	return out, nil
}

func (f *fastCrypto) VerifyAggregate(signers consensus.Bitmap, msg, sig []byte) bool {
	if len(sig) != 32 || len(signers) != (len(f.secrets)+7)/8 {
		return false
	}
	var key [32]byte
	if f.aggs != nil {
		copy(key[:], crypto.Keccak256(signers, msg))
		if want, ok := f.aggs.m[key]; ok {
			return subtle.ConstantTimeCompare(want[:], sig) == 1
		}
	}
	want := make([]byte, 32)
	members := signers.Members()
	if len(members) == 0 {
		return false
	}
	for _, i := range members {
		if int(i) >= len(f.secrets) {
			return false
		}
		s := f.sigOf(i, msg)
		for j := range want {
			want[j] ^= s[j]
		}
	}
	if f.aggs != nil {
		if len(f.aggs.m) >= aggCacheMax {
			clear(f.aggs.m)
		}
		f.aggs.m[key] = [32]byte(want)
	}
	return subtle.ConstantTimeCompare(want, sig) == 1
}
