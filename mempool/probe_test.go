package mempool

import (
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

// oneTransfer is the balance that pays for exactly one transfer of value 1
// at the default test fee cap (2 gwei).
func oneTransfer() *uint256.Int { return uint256.NewInt(chain.TransferGas*2e9 + 1) }

// TestProbeOneTransferFundsOneTransaction is issue 12's probe: an account
// funded for one transfer submits 626 transactions with consecutive nonces.
// Each alone is payable; together they are not, and only the first may be
// held: the rest could never run and would only take room from others.
func TestProbeOneTransferFundsOneTransaction(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneTransfer())
	p := newPool(t, tc, DefaultConfig(), nil)
	admitted := 0
	var last error
	for n := range uint64(626) {
		if _, err := p.Add(raw(t, k, spec{nonce: n, value: 1})); err == nil {
			admitted++
		} else {
			last = err
		}
	}
	t.Logf("account funded for one transfer: %d of 626 admitted (last refusal: %v)", admitted, last)
	if admitted != 1 || p.Len() != 1 {
		t.Fatalf("admitted %d, pool holds %d; want 1", admitted, p.Len())
	}
	if !errors.Is(last, chain.ErrInsufficientFunds) {
		t.Fatalf("refusal %v, want insufficient funds", last)
	}
	p.checkInvariants(t)
}

// TestProbeQueuedRepricing is issue 12's replacement probe: a transaction
// behind a nonce gap (it can never run until the gap fills, so its price is
// never paid) is re-priced 40 times, each time by the required bump. Only
// MaxReplacementsPerSender of them may pass before the next block.
func TestProbeQueuedRepricing(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	p := newPool(t, tc, DefaultConfig(), nil)
	mustAdd(t, p, raw(t, k, spec{nonce: 5, feeCap: 2e9, tip: 1e9}))
	feeCap, tip := uint64(2e9), uint64(1e9)
	accepted := 0
	for range 40 {
		feeCap, tip = feeCap*11/10, tip*11/10
		if _, err := p.Add(raw(t, k, spec{nonce: 5, feeCap: feeCap, tip: tip})); err == nil {
			accepted++
		} else if !errors.Is(err, ErrReplaceLimit) {
			t.Fatalf("re-price refused for %v, want the replacement limit", err)
		}
	}
	want := DefaultConfig().MaxReplacementsPerSender
	t.Logf("queued transaction: %d of 40 re-prices accepted before a block (limit %d)", accepted, want)
	if accepted != want {
		t.Fatalf("accepted %d re-prices, want %d", accepted, want)
	}
	// After a block the sender may re-price again.
	commitFill(t, tc, p)
	feeCap, tip = feeCap*11/10, tip*11/10
	mustAdd(t, p, raw(t, k, spec{nonce: 5, feeCap: feeCap, tip: tip}))
	if p.Len() != 1 {
		t.Fatalf("pool holds %d", p.Len())
	}
	p.checkInvariants(t)
}

func TestCumulativeBalance(t *testing.T) {
	fee := uint64(chain.TransferGas) * 2e9 // one transfer's gas at 2 gwei
	t.Run("pending and queued both count", func(t *testing.T) {
		k := key(t, 1)
		tc := newTestChain(t, []*KeyT{k}, uint256.NewInt(3*(fee+100)))
		p := newPool(t, tc, DefaultConfig(), nil)
		mustAdd(t, p, raw(t, k, spec{nonce: 0, value: 100}))
		mustAdd(t, p, raw(t, k, spec{nonce: 4, value: 100})) // queued
		mustAdd(t, p, raw(t, k, spec{nonce: 1, value: 100}))
		if _, err := p.Add(raw(t, k, spec{nonce: 2, value: 100})); !errors.Is(err, chain.ErrInsufficientFunds) {
			t.Fatalf("fourth transaction: %v", err)
		}
	})
	t.Run("a replacement counts instead of the one it replaces", func(t *testing.T) {
		k := key(t, 1)
		tc := newTestChain(t, []*KeyT{k}, uint256.NewInt(2*fee+fee/2))
		p := newPool(t, tc, DefaultConfig(), nil)
		mustAdd(t, p, raw(t, k, spec{nonce: 0}))
		mustAdd(t, p, raw(t, k, spec{nonce: 1}))
		// A 20% higher fee cap on nonce 1 costs 2.4 fees in all: payable.
		mustAdd(t, p, raw(t, k, spec{nonce: 1, feeCap: 2.4e9, tip: 1.1e9}))
		// 2 + 1.6 fees is not.
		if _, err := p.Add(raw(t, k, spec{nonce: 1, feeCap: 3.2e9, tip: 1.3e9})); !errors.Is(err, chain.ErrInsufficientFunds) {
			t.Fatalf("costly replacement: %v", err)
		}
		p.checkInvariants(t)
	})
	t.Run("what leaves the pool frees its cost", func(t *testing.T) {
		k := key(t, 1)
		tc := newTestChain(t, []*KeyT{k}, uint256.NewInt(2*(fee+1)))
		now := &fakeNow{t: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
		p := newPool(t, tc, DefaultConfig(), now)
		mustAdd(t, p, raw(t, k, spec{nonce: 0, value: 1}))
		mustAdd(t, p, raw(t, k, spec{nonce: 5, value: 1}))
		if _, err := p.Add(raw(t, k, spec{nonce: 6, value: 1})); !errors.Is(err, chain.ErrInsufficientFunds) {
			t.Fatalf("third: %v", err)
		}
		now.Advance(DefaultConfig().QueueLifetime + time.Second)
		if n := p.Expire(); n != 1 {
			t.Fatalf("expired %d", n)
		}
		mustAdd(t, p, raw(t, k, spec{nonce: 6, value: 1})) // nonce 5's share is free again
		p.checkInvariants(t)
		commitFill(t, tc, p) // includes nonce 0: the balance is one transfer lower, and so is the pooled cost
		p.checkInvariants(t)
		if _, q := p.lists(addr(k)); !slices.Equal(q, []uint64{6}) {
			t.Fatalf("queued %v", q)
		}
	})
	t.Run("a block that lowers the balance drops the highest nonces", func(t *testing.T) {
		k := key(t, 1)
		// Five transfers of value 100, and a little more.
		bal := 5*(fee+100) + 50
		tc := newTestChain(t, []*KeyT{k}, uint256.NewInt(bal))
		p := newPool(t, tc, DefaultConfig(), nil)
		for _, n := range []uint64{0, 1, 2, 5, 6} {
			mustAdd(t, p, raw(t, k, spec{nonce: n, value: 100}))
		}
		// A block from elsewhere spends nonce 0 on a costlier transfer
		// (value 2,000 at a 3 gwei fee cap, gas paid at 2 gwei): the rest
		// can no longer all be paid.
		commitElsewhere(t, tc, p, raw(t, k, spec{nonce: 0, value: 2000, feeCap: 3e9}))
		st, _ := tc.c.Account(addr(k))
		pn, q := p.lists(addr(k))
		// Left: 1, 2, 5, 6 cost 4(fee+100) > balance; 6 goes, then 1, 2, 5 fit.
		if !slices.Equal(pn, []uint64{1, 2}) || !slices.Equal(q, []uint64{5}) {
			t.Fatalf("balance %s: pending %v queued %v, want [1 2] and [5]", st.Balance.Dec(), pn, q)
		}
		p.checkInvariants(t)
	})
}

// TestRepricingLimitResetsEachBlock: the limit counts replacements of one
// sender, pending or queued, between two committed blocks.
func TestRepricingLimitResetsEachBlock(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	cfg := DefaultConfig()
	cfg.MaxReplacementsPerSender = 2
	p := newPool(t, tc, cfg, nil)
	mustAdd(t, p, raw(t, k, spec{nonce: 0, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, k, spec{nonce: 3, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, k, spec{nonce: 0, feeCap: 3e9, tip: 2e9}))
	mustAdd(t, p, raw(t, k, spec{nonce: 3, feeCap: 3e9, tip: 2e9}))
	if _, err := p.Add(raw(t, k, spec{nonce: 3, feeCap: 4e9, tip: 3e9})); !errors.Is(err, ErrReplaceLimit) {
		t.Fatalf("third replacement: %v", err)
	}
	// A block that does not touch the sender still starts a new count.
	other := key(t, 2)
	tc2 := newTestChain(t, []*KeyT{k, other}, oneEther)
	p2 := newPool(t, tc2, cfg, nil)
	mustAdd(t, p2, raw(t, k, spec{nonce: 3, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p2, raw(t, k, spec{nonce: 3, feeCap: 3e9, tip: 2e9}))
	mustAdd(t, p2, raw(t, k, spec{nonce: 3, feeCap: 4e9, tip: 3e9}))
	if _, err := p2.Add(raw(t, k, spec{nonce: 3, feeCap: 5e9, tip: 4e9})); !errors.Is(err, ErrReplaceLimit) {
		t.Fatalf("third replacement: %v", err)
	}
	mustAdd(t, p2, raw(t, other, spec{nonce: 0}))
	commitFill(t, tc2, p2)
	mustAdd(t, p2, raw(t, k, spec{nonce: 3, feeCap: 5e9, tip: 4e9}))
}

// TestDemotionTrimKeepsLowestNonces evicts the lowest pending transaction of a
// sender with a long pending run: its later transactions are demoted and
// the sender's queue is trimmed to its limit, highest nonces first.
func TestDemotionTrimKeepsLowestNonces(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2)}
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs, cfg.ShardShare, cfg.MaxQueuedPerSender = 200, float64(cfg.Shards), 8
	p := newPool(t, tc, cfg, nil)
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, feeCap: 2e9, tip: 1e9}))
	for n := uint64(1); n < 200; n++ {
		mustAdd(t, p, raw(t, keys[0], spec{nonce: n, feeCap: 9e9, tip: 9e9}))
	}
	mustAdd(t, p, raw(t, keys[1], spec{nonce: 0, feeCap: 5e9, tip: 5e9})) // evicts nonce 0
	pn, q := p.lists(addr(keys[0]))
	if len(pn) != 0 || !slices.Equal(q, []uint64{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("pending %v queued %v", pn, q)
	}
	p.checkInvariants(t)
}

// TestInvalid: refusals for what a transaction is are Invalid; refusals
// for the state or the pool it met are not.
func TestInvalid(t *testing.T) {
	k, poor := key(t, 1), key(t, 2)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	cfg := DefaultConfig()
	cfg.MaxReplacementsPerSender = 0
	p := newPool(t, tc, cfg, nil)
	mustAdd(t, p, raw(t, k, spec{nonce: 0}))
	commitFill(t, tc, p)
	held := mustAdd(t, p, raw(t, k, spec{nonce: 1}))
	// A signature with r = 0 recovers no sender; a corrupted one usually
	// recovers some unfunded address instead.
	to := chain.Address{0x70}
	badSig, err := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(testChainID), Nonce: 2, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(2e9), Gas: chain.TransferGas, To: &to, V: big.NewInt(0), R: big.NewInt(0), S: big.NewInt(1)}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	corrupted := append([]byte(nil), raw(t, k, spec{nonce: 2})...)
	corrupted[len(corrupted)-2] ^= 1
	cases := []struct {
		name    string
		raw     []byte
		invalid bool
	}{
		{"oversized", make([]byte, 2000), true},
		{"garbage", []byte{0xc3, 0x01, 0x02, 0x03}, true},
		{"unsupported type", []byte{0x03, 0xc0}, true},
		{"fee cap below minimum", raw(t, k, spec{nonce: 2, feeCap: 5e8, tip: 1}), true},
		{"tip above fee cap", raw(t, k, spec{nonce: 2, feeCap: 2e9, tip: 3e9}), true},
		{"signature recovers no sender", badSig, true},
		{"corrupted signature", corrupted, false},
		{"nonce too low", raw(t, k, spec{nonce: 0, feeCap: 3e9}), false},
		{"unfunded sender", raw(t, poor, spec{nonce: 0}), false},
		{"already known", held.Raw, false},
		{"replacement underpriced", raw(t, k, spec{nonce: 1, value: 5}), false},
		{"replacement limit", raw(t, k, spec{nonce: 1, feeCap: 9e9, tip: 9e9}), false},
		{"nonce too far", raw(t, k, spec{nonce: 5000}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Add(c.raw)
			if err == nil {
				t.Fatal("admitted")
			}
			if Invalid(err) != c.invalid {
				t.Fatalf("Invalid(%v) = %v", err, !c.invalid)
			}
		})
	}
	if Invalid(nil) || Invalid(errors.New("mempool: read sender account: disk")) {
		t.Fatal("a non-refusal is Invalid")
	}
}
