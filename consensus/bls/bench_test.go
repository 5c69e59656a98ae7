package bls

import "testing"

var benchMsg = []byte("bizra vote: height 1000000 round 3 block 0x9f2c…")

func BenchmarkSign(b *testing.B) {
	sk := mustKey(b)
	for b.Loop() {
		sk.Sign(benchMsg)
	}
}

func BenchmarkVerify(b *testing.B) {
	sk := mustKey(b)
	pk, sig := sk.PublicKey(), sk.Sign(benchMsg)
	for b.Loop() {
		if !Verify(pk, benchMsg, sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkAggregate100 aggregates one committee's 100 votes: signatures and
// public keys.
func BenchmarkAggregate100(b *testing.B) {
	c := newCommittee(b, 100, benchMsg)
	for b.Loop() {
		if _, err := AggregateSignatures(c.sigs); err != nil {
			b.Fatal(err)
		}
		if _, err := AggregatePublicKeys(c.pks); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFastAggregateVerify100(b *testing.B) {
	c := newCommittee(b, 100, benchMsg)
	for b.Loop() {
		if !FastAggregateVerify(c.pks, benchMsg, c.agg) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkVerifyAggregatedSub3 verifies a certificate against a cached
// committee key with three absent signers subtracted: the per-certificate
// cost however large the committee.
func BenchmarkVerifyAggregatedSub3(b *testing.B) {
	c := newCommittee(b, 100, benchMsg)
	committeeKey, err := AggregatePublicKeys(c.pks)
	if err != nil {
		b.Fatal(err)
	}
	cert := mustAggregate(b, c.sigs[3:])
	absent := c.pks[:3]
	for b.Loop() {
		if !VerifyAggregated(committeeKey.Sub(absent...), benchMsg, cert) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkSignatureFromBytes(b *testing.B) {
	enc := mustKey(b).Sign(benchMsg).Bytes()
	for b.Loop() {
		if _, err := SignatureFromBytes(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublicKeyFromBytes(b *testing.B) {
	enc := mustKey(b).PublicKey().Bytes()
	for b.Loop() {
		if _, err := PublicKeyFromBytes(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPossession(b *testing.B) {
	sk := mustKey(b)
	pk, pop := sk.PublicKey(), ProvePossession(sk)
	for b.Loop() {
		if err := VerifyPossession(pk, pop); err != nil {
			b.Fatal(err)
		}
	}
}
