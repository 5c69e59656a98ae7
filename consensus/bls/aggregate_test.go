package bls

import (
	"errors"
	"slices"
	"testing"
)

// committee is n signers of one message with their aggregate.
type committee struct {
	sks  []*SecretKey
	pks  []*PublicKey
	sigs []*Signature
	msg  []byte
	agg  *Signature
}

func newCommittee(tb testing.TB, n int, msg []byte) committee {
	tb.Helper()
	c := committee{msg: msg}
	c.sks, c.pks = mustKeys(tb, n)
	c.sigs = make([]*Signature, n)
	for i, sk := range c.sks {
		c.sigs[i] = sk.Sign(msg)
	}
	var err error
	if c.agg, err = AggregateSignatures(c.sigs); err != nil {
		tb.Fatal(err)
	}
	return c
}

// without returns s minus the elements at the given indices.
func without[T any](s []T, drop ...int) []T {
	var out []T
	for i, v := range s {
		if !slices.Contains(drop, i) {
			out = append(out, v)
		}
	}
	return out
}

func TestAggregate100(t *testing.T) {
	c := newCommittee(t, 100, []byte("block 0x42 round 9"))
	outsider := mustKey(t)
	otherMsg := []byte("block 0x43 round 9")
	forgedSigs := slices.Clone(c.sigs)
	forgedSigs[50] = c.sks[50].Sign(otherMsg)
	forged, err := AggregateSignatures(forgedSigs)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		pks  []*PublicKey
		msg  []byte
		sig  *Signature
		want bool
	}{
		{"all signers", c.pks, c.msg, c.agg, true},
		{"signers in another order", reversed(c.pks), c.msg, c.agg, true},
		{"wrong message", c.pks, otherMsg, c.agg, false},
		{"one signer missing from keys", c.pks[1:], c.msg, c.agg, false},
		{"one signature missing from aggregate", c.pks, c.msg, mustAggregate(t, c.sigs[1:]), false},
		{"an outsider's key added", append(slices.Clone(c.pks), outsider.PublicKey()), c.msg, c.agg, false},
		{"a signer counted twice", append(slices.Clone(c.pks), c.pks[0]), c.msg, c.agg, false},
		{"one signer signed another message", c.pks, c.msg, forged, false},
		{"a single signature for the whole set", c.pks, c.msg, c.sigs[0], false},
		{"no keys", nil, c.msg, c.agg, false},
		{"nil key among keys", append(slices.Clone(c.pks[:99]), nil), c.msg, c.agg, false},
		{"nil signature", c.pks, c.msg, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FastAggregateVerify(tc.pks, tc.msg, tc.sig); got != tc.want {
				t.Fatalf("FastAggregateVerify = %v, want %v", got, tc.want)
			}
			agg, err := AggregatePublicKeys(tc.pks)
			if err != nil {
				if tc.want {
					t.Fatal(err)
				}
				return
			}
			if got := VerifyAggregated(agg, tc.msg, tc.sig); got != tc.want {
				t.Fatalf("VerifyAggregated = %v, want %v", got, tc.want)
			}
		})
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func mustAggregate(tb testing.TB, sigs []*Signature) *Signature {
	tb.Helper()
	agg, err := AggregateSignatures(sigs)
	if err != nil {
		tb.Fatal(err)
	}
	return agg
}

func TestSubtractSigners(t *testing.T) {
	c := newCommittee(t, 100, []byte("certificate"))
	committeeKey, err := AggregatePublicKeys(c.pks)
	if err != nil {
		t.Fatal(err)
	}
	before := committeeKey.Bytes()

	tests := []struct {
		name   string
		absent []int
	}{
		{"first", []int{0}},
		{"middle", []int{57}},
		{"last", []int{99}},
		{"three", []int{3, 40, 88}},
		{"all but one", without(seq(100), 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			absent := make([]*PublicKey, len(tc.absent))
			for i, j := range tc.absent {
				absent[i] = c.pks[j]
			}
			got := committeeKey.Sub(absent...)
			want, err := AggregatePublicKeys(without(c.pks, tc.absent...))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatal("committee key minus absent signers differs from the aggregate of the present ones")
			}
			cert := mustAggregate(t, without(c.sigs, tc.absent...))
			if !VerifyAggregated(got, c.msg, cert) {
				t.Fatal("certificate of the present signers does not verify under the subtracted key")
			}
			if VerifyAggregated(committeeKey, c.msg, cert) {
				t.Fatal("certificate missing signers verifies under the full committee key")
			}
			if !got.Add(absent...).Equal(committeeKey) {
				t.Fatal("adding the absent signers back does not restore the committee key")
			}
		})
	}
	t.Run("receiver unchanged", func(t *testing.T) {
		_ = committeeKey.Sub(c.pks[0]).Add(c.pks[1])
		if !slices.Equal(committeeKey.Bytes(), before) {
			t.Fatal("Sub or Add modified its receiver")
		}
	})
	t.Run("subtracting every signer gives the identity, which never verifies", func(t *testing.T) {
		empty := committeeKey.Sub(c.pks...)
		if _, err := PublicKeyFromBytes(empty.Bytes()); !errors.Is(err, ErrIdentity) {
			t.Fatalf("decoding the empty aggregate: err = %v, want %v", err, ErrIdentity)
		}
		if VerifyAggregated(empty, c.msg, c.agg) {
			t.Fatal("identity key verified a signature")
		}
	})
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestSignatureAdd(t *testing.T) {
	c := newCommittee(t, 5, []byte("late votes"))
	partial := mustAggregate(t, c.sigs[:3])
	before := partial.Bytes()
	full := partial.Add(c.sigs[3:]...)
	if !full.Equal(c.agg) {
		t.Fatal("adding the late signatures does not give the full aggregate")
	}
	if !slices.Equal(partial.Bytes(), before) {
		t.Fatal("Signature.Add modified its receiver")
	}
}

func TestAggregateErrors(t *testing.T) {
	sig := mustKey(t).Sign([]byte("x"))
	pk := mustKey(t).PublicKey()
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"no signatures", func() error { _, err := AggregateSignatures(nil); return err }, ErrEmptyAggregate},
		{"nil signature", func() error { _, err := AggregateSignatures([]*Signature{sig, nil}); return err }, ErrNilInput},
		{"no keys", func() error { _, err := AggregatePublicKeys([]*PublicKey{}); return err }, ErrEmptyAggregate},
		{"nil key", func() error { _, err := AggregatePublicKeys([]*PublicKey{nil, pk}); return err }, ErrNilInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("one element aggregates to itself", func(t *testing.T) {
		if got := mustAggregate(t, []*Signature{sig}); !got.Equal(sig) {
			t.Fatal("aggregate of one signature differs from it")
		}
	})
}

// TestRogueKeyAttack shows the attack that proofs of possession stop: without
// the check, an attacker's key crafted from a victim's key lets the attacker
// alone forge a two-signer aggregate; the crafted key cannot prove possession.
func TestRogueKeyAttack(t *testing.T) {
	victim, attacker := mustKey(t), mustKey(t)
	rogue := attacker.PublicKey().Sub(victim.PublicKey()) // pk_a − pk_v
	msg := []byte("victim approves block 0xbad")
	forged := attacker.Sign(msg)

	if !FastAggregateVerify([]*PublicKey{victim.PublicKey(), rogue}, msg, forged) {
		t.Fatal("the forgery should verify when keys are not checked; the test no longer shows the attack")
	}
	attempts := []struct {
		name string
		pop  *Signature
	}{
		{"attacker's own proof", ProvePossession(attacker)},
		{"attacker's signature of the rogue key", attacker.Sign(rogue.Bytes())},
		{"victim's proof", ProvePossession(victim)},
	}
	for _, tc := range attempts {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyPossession(rogue, tc.pop); !errors.Is(err, ErrInvalidPossession) {
				t.Fatalf("rogue key accepted: err = %v", err)
			}
		})
	}
}
