package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

// Deterministic BLS keys for tests and benchmarks: validator i's secret is
// a hash of i, so signatures, committees and golden files are the same on
// every run. Keys are made once per process and shared.
var testKeyCache struct {
	sync.Mutex
	sks []*bls.SecretKey
	pks [][]byte
}

func testKeys(tb testing.TB, n int) ([]*bls.SecretKey, [][]byte) {
	tb.Helper()
	testKeyCache.Lock()
	defer testKeyCache.Unlock()
	for i := len(testKeyCache.sks); i < n; i++ {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		h := chain.Keccak256([]byte("bizra consensus test key"), b[:])
		h[0] &= 0x3f // below the group order
		sk, err := bls.SecretKeyFromBytes(h[:])
		if err != nil {
			tb.Fatalf("test key %d: %v", i, err)
		}
		testKeyCache.sks = append(testKeyCache.sks, sk)
		testKeyCache.pks = append(testKeyCache.pks, sk.PublicKey().Bytes())
	}
	return testKeyCache.sks[:n], testKeyCache.pks[:n]
}

// testSet returns a validator set with the given stakes and the
// validators' secret keys.
func testSet(tb testing.TB, stakes []uint64) (*ValidatorSet, []*bls.SecretKey) {
	tb.Helper()
	sks, pks := testKeys(tb, len(stakes))
	vals := make([]Validator, len(stakes))
	for i, st := range stakes {
		vals[i] = Validator{Name: fmt.Sprint("v", i), PubKey: pks[i], Stake: st}
	}
	set, err := NewValidatorSet(vals)
	if err != nil {
		tb.Fatal(err)
	}
	return set, sks
}

func equalStakes(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = 100
	}
	return s
}

func mustBLSCrypto(tb testing.TB, sk *bls.SecretKey, set *ValidatorSet) *BLSCrypto {
	tb.Helper()
	c, err := NewBLSCrypto(sk, set)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func bitmapOf(n int, members ...int) Bitmap {
	b := NewBitmap(n)
	for _, m := range members {
		b.Set(uint32(m))
	}
	return b
}

func rangeOf(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// aggregateOf signs msg with the members' keys and aggregates the
// signatures through c.
func aggregateOf(tb testing.TB, c Crypto, sks []*bls.SecretKey, msg []byte, members ...int) []byte {
	tb.Helper()
	sigs := make([][]byte, len(members))
	for i, m := range members {
		sigs[i] = sks[m].Sign(msg).Bytes()
	}
	agg, err := c.Aggregate(sigs)
	if err != nil {
		tb.Fatal(err)
	}
	return agg
}

// offSubgroupG2 returns the encoding of a point on the G2 curve outside the
// prime-order subgroup, with blst as the judge.
func offSubgroupG2(tb testing.TB) []byte {
	tb.Helper()
	for x := int64(1); x < 1000; x++ {
		b := make([]byte, bls.SignatureSize)
		big.NewInt(x).FillBytes(b[48:])
		b[0] |= 0x80 // compressed
		if p := new(blst.P2Affine).Uncompress(b); p != nil && !p.InG2() {
			return b
		}
	}
	tb.Fatal("no off-subgroup G2 point found")
	return nil
}

func TestBLSCryptoSignVerify(t *testing.T) {
	set, sks := testSet(t, equalStakes(4))
	c := mustBLSCrypto(t, sks[1], set)
	msg := []byte("vote bytes")
	sig := c.Sign(msg)
	if len(sig) != bls.SignatureSize {
		t.Fatalf("signature of %d bytes, want %d", len(sig), bls.SignatureSize)
	}
	tests := []struct {
		name string
		i    uint32
		msg  []byte
		sig  []byte
		want bool
	}{
		{"signer", 1, msg, sig, true},
		{"another validator", 2, msg, sig, false},
		{"another message", 1, []byte("vote bytez"), sig, false},
		{"index beyond the set", 4, msg, sig, false},
		{"empty signature", 1, msg, nil, false},
		{"short signature", 1, msg, sig[:95], false},
		{"flipped bit", 1, msg, flip(sig, 5), false},
		{"point off the subgroup", 1, msg, offSubgroupG2(t), false},
		{"identity", 1, msg, append([]byte{0xc0}, make([]byte, 95)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Verify(tt.i, tt.msg, tt.sig); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("verify-only node signs nothing", func(t *testing.T) {
		if sig := mustBLSCrypto(t, nil, set).Sign(msg); sig != nil {
			t.Errorf("Sign without a key = %x, want nil", sig)
		}
	})
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 1
	return out
}

func TestBLSCryptoAggregate(t *testing.T) {
	set, sks := testSet(t, equalStakes(4))
	c := mustBLSCrypto(t, nil, set)
	msg := []byte("vote bytes")
	good := [][]byte{sks[0].Sign(msg).Bytes(), sks[2].Sign(msg).Bytes()}
	agg, err := c.Aggregate(good)
	if err != nil {
		t.Fatal(err)
	}
	if !c.VerifyAggregate(bitmapOf(4, 0, 2), msg, agg) {
		t.Error("aggregate of validators 0 and 2 does not verify")
	}
	// Aggregation is order independent.
	if rev, err := c.Aggregate([][]byte{good[1], good[0]}); err != nil || string(rev) != string(agg) {
		t.Errorf("aggregate in reverse order = %x, %v; want %x", rev, err, agg)
	}
	for _, tt := range []struct {
		name string
		sigs [][]byte
	}{
		{"nothing", nil},
		{"garbage", [][]byte{good[0], []byte("not a signature")}},
		{"off the subgroup", [][]byte{good[0], offSubgroupG2(t)}},
		{"flipped bit", [][]byte{flip(good[0], 7)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if agg, err := c.Aggregate(tt.sigs); err == nil {
				t.Errorf("Aggregate = %x, want an error", agg)
			}
		})
	}
}

// TestBLSCryptoVerifyAggregate checks certificates through both ways of
// computing the signers' key: the whole set's key minus the absent ones
// (most signed) and the sum of the present ones (few signed).
func TestBLSCryptoVerifyAggregate(t *testing.T) {
	const n = 13 // bitmaps of two bytes, three bits beyond the set
	set, sks := testSet(t, equalStakes(n))
	c := mustBLSCrypto(t, nil, set)
	msg := []byte("vote bytes")
	other := []byte("other vote bytes")

	type tc struct {
		name    string
		signers Bitmap
		sig     []byte
		want    bool
	}
	var tests []tc
	for _, signed := range []struct {
		path    string
		members []int
	}{
		{"all signed", rangeOf(0, n)},
		{"most signed", rangeOf(0, 9)},
		{"half plus one signed", rangeOf(0, 7)}, // 6 absent < 7 present: subtraction
		{"half signed", rangeOf(0, 6)},          // 7 absent ≥ 6 present: sum
		{"few signed", []int{2, 5, 11}},
		{"one signed", []int{12}},
	} {
		m := signed.members
		agg := aggregateOf(t, c, sks, msg, m...)
		outsider := 0
		for slices.Contains(m, outsider) {
			outsider++
		}
		tests = append(tests,
			tc{signed.path + "/exact signers", bitmapOf(n, m...), agg, true},
			tc{signed.path + "/other message", bitmapOf(n, m...), aggregateOf(t, c, sks, other, m...), false},
		)
		if outsider < n {
			tests = append(tests, tc{signed.path + "/extra signer", bitmapOf(n, append([]int{outsider}, m...)...), agg, false})
		}
		if len(m) > 1 {
			tests = append(tests,
				tc{signed.path + "/missing signer", bitmapOf(n, m[1:]...), agg, false},
				tc{signed.path + "/signature of one missing", bitmapOf(n, m...), aggregateOf(t, c, sks, msg, m[1:]...), false},
			)
		}
		if outsider < n && len(m) > 1 {
			// A member replaced by an outsider who signed: same count.
			swapped := append([]int{outsider}, m[1:]...)
			tests = append(tests, tc{signed.path + "/signer swapped", bitmapOf(n, m...), aggregateOf(t, c, sks, msg, swapped...), false})
		}
	}
	all := aggregateOf(t, c, sks, msg, rangeOf(0, n)...)
	allBits := bitmapOf(n, rangeOf(0, n)...)
	beyond := allBits.Clone()
	beyond.Set(14)
	tests = append(tests,
		tc{"empty bitmap", NewBitmap(n), all, false},
		tc{"bitmap one byte short", allBits[:1], all, false},
		tc{"bitmap one byte long", append(allBits.Clone(), 0), all, false},
		tc{"no bitmap", nil, all, false},
		tc{"signer beyond the set", beyond, all, false},
		tc{"only a signer beyond the set", bitmapOf(16, 15)[:2], all, false},
		tc{"empty signature", allBits, nil, false},
		tc{"garbage signature", allBits, []byte("garbage"), false},
		tc{"flipped bit", allBits, flip(all, 40), false},
		tc{"signature off the subgroup", allBits, offSubgroupG2(t), false},
		tc{"identity signature", allBits, append([]byte{0xc0}, make([]byte, 95)...), false},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.VerifyAggregate(tt.signers, msg, tt.sig); got != tt.want {
				t.Errorf("VerifyAggregate(%08b) = %v, want %v", tt.signers, got, tt.want)
			}
		})
	}
}

func TestNewBLSCryptoRejectsBadKey(t *testing.T) {
	_, pks := testKeys(t, 2)
	set, err := NewValidatorSet([]Validator{
		{Name: "good", PubKey: pks[0], Stake: 1},
		{Name: "bad", PubKey: flip(pks[1], 47), Stake: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewBLSCrypto(nil, set); err == nil {
		t.Error("NewBLSCrypto accepted a set with a malformed public key")
	}
}

// TestBLSCryptoConcurrent uses one BLSCrypto from several goroutines, as
// a node's gossip validators and core do; run it with -race.
func TestBLSCryptoConcurrent(t *testing.T) {
	set, sks := testSet(t, equalStakes(8))
	c := mustBLSCrypto(t, nil, set)
	msg := []byte("vote bytes")
	sigs := make([][]byte, 8)
	for i := range sigs {
		sigs[i] = sks[i].Sign(msg).Bytes()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := range sigs {
				if !c.Verify(uint32(i), msg, sigs[i]) {
					errs <- fmt.Errorf("goroutine %d: signature %d does not verify", g, i)
				}
			}
			agg, err := c.Aggregate(sigs)
			if err != nil || !c.VerifyAggregate(bitmapOf(8, rangeOf(0, 8)...), msg, agg) {
				errs <- fmt.Errorf("goroutine %d: aggregate does not verify (%v)", g, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// xorCrypto is a fast, insecure Crypto for fuzzing: validator i's
// signature of m is a hash of i and m, an aggregate is the XOR of its
// signatures. It is additive, as the core requires.
type xorCrypto struct {
	n    int
	self uint32
}

func (x xorCrypto) sigOf(i uint32, msg []byte) []byte {
	h := chain.Keccak256([]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, msg)
	return h[:]
}

func (x xorCrypto) Sign(msg []byte) []byte { return x.sigOf(x.self, msg) }

func (x xorCrypto) Verify(i uint32, msg, sig []byte) bool {
	return int(i) < x.n && bytes.Equal(x.sigOf(i, msg), sig)
}

func (x xorCrypto) Aggregate(sigs [][]byte) ([]byte, error) {
	if len(sigs) == 0 {
		return nil, errors.New("nothing to aggregate")
	}
	out := make([]byte, 32)
	for _, s := range sigs {
		if len(s) != 32 {
			return nil, errors.New("malformed signature")
		}
		for i := range out {
			out[i] ^= s[i]
		}
	}
	return out, nil
}

func (x xorCrypto) VerifyAggregate(signers Bitmap, msg, sig []byte) bool {
	members := signers.Members()
	if len(signers) != (x.n+7)/8 || len(members) == 0 || int(members[len(members)-1]) >= x.n {
		return false
	}
	sigs := make([][]byte, len(members))
	for j, i := range members {
		sigs[j] = x.sigOf(i, msg)
	}
	want, _ := x.Aggregate(sigs)
	return bytes.Equal(want, sig)
}
