package consensus

import (
	"sync"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

// The benchmarks below are the acceptance figures of vote aggregation at
// 10,000 validators in 100 committees, with real BLS. Run them on one
// core:
//
//	GOMAXPROCS=1 go test -run '^$' -bench 'Leader|VerifyQC|Aggregator' -count 5 ./consensus
//
// The keys and the 10,000 signatures of one vote are made once per process
// (a few seconds). Every timed iteration starts from a core and a BLSCrypto
// that have decoded no signature yet, so decoding is part of the figure.

const (
	benchValidators = 10_000
	benchCommittees = 100
)

type benchNet struct {
	set    *ValidatorSet
	sks    []*bls.SecretKey
	crypto *BLSCrypto // public keys decoded once, shared by the iterations
	block  Hash
	msg    []byte   // the prevote sign bytes of round 0 at rigHeight
	sigs   [][]byte // every validator's signature of msg
}

var (
	benchOnce sync.Once
	benchData *benchNet
)

func benchSetup(b *testing.B) *benchNet {
	b.Helper()
	benchOnce.Do(func() {
		set, sks := testSet(b, equalStakes(benchValidators))
		n := &benchNet{set: set, sks: sks, crypto: mustBLSCrypto(b, nil, set), block: chain.Keccak256([]byte("bench block"))}
		n.msg = VoteSignBytes(testChainTag, Prevote, rigHeight, 0, n.block)
		n.sigs = make([][]byte, benchValidators)
		for i, sk := range sks {
			n.sigs[i] = sk.Sign(n.msg).Bytes()
		}
		benchData = n
	})
	if benchData == nil {
		b.Fatal("setup failed")
	}
	return benchData
}

// fresh returns a BLSCrypto over the same decoded keys with an empty
// signature cache.
func (n *benchNet) fresh() *BLSCrypto {
	return &BLSCrypto{pks: n.crypto.pks, all: n.crypto.all, sigs: map[string]*bls.Signature{}}
}

func (n *benchNet) core(b *testing.B, self uint32, crypto Crypto) *Core {
	b.Helper()
	c, err := NewCore(Config{
		ChainTag: testChainTag, Validators: n.set, Self: self, Crypto: crypto,
		Committees: benchCommittees, EpochLength: 1000,
		TimeoutTicks: 1000, TimeoutGrowthPercent: 50, MaxTimeoutTicks: 10000,
		AggregateTicks: 3, FallbackTicks: 500,
	}, Start{Height: rigHeight, EpochSeed: EpochSeed(testChainTag, 0, Hash{})})
	if err != nil {
		b.Fatal(err)
	}
	c.Ready()
	c.Advance()
	return c
}

// aggregate returns the aggregate of the members' signatures with its
// signer bitmap.
func (n *benchNet) aggregate(b *testing.B, members []uint32) (Bitmap, []byte) {
	b.Helper()
	bm := NewBitmap(benchValidators)
	sigs := make([][]byte, len(members))
	for i, m := range members {
		bm.Set(m)
		sigs[i] = n.sigs[m]
	}
	agg, err := n.crypto.Aggregate(sigs)
	if err != nil {
		b.Fatal(err)
	}
	return bm, agg
}

func readyHas(c *Core, kind Kind) bool {
	rd := c.Ready()
	c.Advance()
	for _, env := range rd.Messages {
		if env.Msg.Kind == kind {
			return true
		}
	}
	return false
}

// BenchmarkLeaderQC10k is the leader of a round receiving the aggregates
// of all 100 committees as wire messages (each about 100 signers of the
// same vote) and forming the quorum certificate: decoding, checking the
// parts (one pairing for all of them) and combining them. Goal: 100 ms.
// With "1bad", the aggregate of one committee among the first to arrive
// signs another block and is found by bisection.
func BenchmarkLeaderQC10k(b *testing.B) {
	n := benchSetup(b)
	leader := n.set.Proposer(rigHeight, 0)
	comms := n.set.Assign(EpochSeed(testChainTag, 0, Hash{}), benchCommittees)
	other := VoteSignBytes(testChainTag, Prevote, rigHeight, 0, chain.Keccak256([]byte("another block")))
	for _, tc := range []struct {
		name string
		bad  int // committee with a bad aggregate, or -1
	}{
		{"good", -1},
		{"1bad", 21},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var wire [][]byte
			for k := range benchCommittees {
				bm, sig := n.aggregate(b, comms.Members(k))
				if k == tc.bad {
					var sigs [][]byte
					for _, m := range comms.Members(k) {
						sigs = append(sigs, n.sks[m].Sign(other).Bytes())
					}
					var err error
					if sig, err = n.crypto.Aggregate(sigs); err != nil {
						b.Fatal(err)
					}
				}
				from, _ := comms.Aggregator(rigHeight, 0, k)
				m := &Message{Kind: KindAggregate, From: from, QC: &QC{Type: Prevote, Height: rigHeight, Round: 0, BlockID: n.block, Signers: bm, Sig: sig}}
				wire = append(wire, m.Encode())
			}
			var checks, parts int
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				crypto := &countingCrypto{Crypto: n.fresh()}
				c := n.core(b, leader, crypto)
				b.StartTimer()
				for i, w := range wire {
					m, err := DecodeMessage(w)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.Step(m); err != nil {
						b.Fatal(err)
					}
					if parts == 0 && readyHas(c, KindQC) {
						parts = i + 1
					}
				}
				b.StopTimer()
				if c.Stats().CertsFormed != 1 {
					b.Fatal("no certificate")
				}
				if got, want := c.Stats().BadSignatures, uint64(min(tc.bad+1, 1)); got != want {
					b.Fatalf("bad signatures %d, want %d", got, want)
				}
				checks += crypto.checks
				b.StartTimer()
			}
			b.ReportMetric(float64(checks)/float64(b.N), "pairings/op")
			b.ReportMetric(float64(parts), "parts-to-quorum")
		})
	}
}

// BenchmarkVerifyQC10k verifies a certificate as every validator does when
// it receives one: quorum, signature decoding, the signers' key and one
// pairing. Goal: 10 ms. "absent-3333" is the largest absence that still
// leaves a quorum; "crypto-absent-3400" checks the aggregate signature of
// 6,600 signers alone, below a quorum.
func BenchmarkVerifyQC10k(b *testing.B) {
	n := benchSetup(b)
	for _, tc := range []struct {
		name   string
		absent int
		qc     bool
	}{
		{"all-signed", 0, true},
		{"absent-3333", 3333, true},
		{"crypto-absent-3400", 3400, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// Absent validators spread evenly over the set.
			absent := NewBitmap(benchValidators)
			for j := range tc.absent {
				absent.Set(uint32(j * benchValidators / tc.absent))
			}
			var present []uint32
			for i := range uint32(benchValidators) {
				if !absent.Has(i) {
					present = append(present, i)
				}
			}
			if got := benchValidators - len(present); got != tc.absent {
				b.Fatalf("%d absent, want %d", got, tc.absent)
			}
			bm, sig := n.aggregate(b, present)
			qc := &QC{Type: Prevote, Height: rigHeight, Round: 0, BlockID: n.block, Signers: bm, Sig: sig}
			c := n.core(b, 0, n.fresh())
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				crypto := n.fresh()
				c.cfg.Crypto = crypto
				b.StartTimer()
				if tc.qc {
					if err := c.verifyQC(qc); err != nil {
						b.Fatal(err)
					}
				} else if !crypto.VerifyAggregate(qc.Signers, n.msg, qc.Sig) {
					b.Fatal("aggregate does not verify")
				}
			}
		})
	}
}

// BenchmarkAggregator100 is a committee's aggregator receiving 100 votes
// as wire messages and forwarding their aggregate to the leader: decoding,
// the optimistic check (and the bisection with a bad vote) and the
// aggregation. Goals: 40 ms, and 150 ms with one bad vote.
func BenchmarkAggregator100(b *testing.B) {
	n := benchSetup(b)
	comms := n.set.Assign(EpochSeed(testChainTag, 0, Hash{}), benchCommittees)
	// The smallest committee of at least 100 members, in a round where
	// its aggregator does not lead.
	k := -1
	for j := range benchCommittees {
		if size := len(comms.Members(j)); size >= 100 && (k < 0 || size < len(comms.Members(k))) {
			k = j
		}
	}
	if k < 0 {
		b.Fatal("no committee of 100")
	}
	var round uint64
	var agg uint32
	for round = range uint64(maxRoundsAhead) {
		if agg, _ = comms.Aggregator(rigHeight, round, k); agg != n.set.Proposer(rigHeight, round) {
			break
		}
	}
	voters := comms.Members(k)[:100]
	msg := VoteSignBytes(testChainTag, Prevote, rigHeight, round, n.block)
	other := VoteSignBytes(testChainTag, Prevote, rigHeight, round, chain.Keccak256([]byte("another block")))
	for _, tc := range []struct {
		name string
		bad  int // position of the bad vote, or -1
	}{
		{"good", -1},
		{"1bad", 37},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var wire [][]byte
			for i, v := range voters {
				m := msg
				if i == tc.bad {
					m = other
				}
				vote := &Message{Kind: KindVote, From: v, Vote: &Vote{Type: Prevote, Height: rigHeight, Round: round, BlockID: n.block, Validator: v, Sig: n.sks[v].Sign(m).Bytes()}}
				wire = append(wire, vote.Encode())
			}
			var checks int
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				crypto := &countingCrypto{Crypto: n.fresh()}
				c := n.core(b, agg, crypto)
				b.StartTimer()
				for _, w := range wire {
					m, err := DecodeMessage(w)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.Step(m); err != nil {
						b.Fatal(err)
					}
				}
				forwarded := readyHas(c, KindAggregate)
				for i := 0; !forwarded && i <= int(c.cfg.AggregateTicks); i++ {
					c.Tick()
					forwarded = readyHas(c, KindAggregate)
				}
				b.StopTimer()
				if !forwarded {
					b.Fatal("nothing forwarded")
				}
				if got, want := c.Stats().BadSignatures, uint64(min(tc.bad+1, 1)); got != want {
					b.Fatalf("bad signatures %d, want %d", got, want)
				}
				checks += crypto.checks
				b.StartTimer()
			}
			b.ReportMetric(float64(checks)/float64(b.N), "pairings/op")
		})
	}
}
