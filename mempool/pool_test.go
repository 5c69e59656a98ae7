package mempool

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/internal/config"
)

// lists returns a sender's pending and queued nonces.
func (p *Pool) lists(a chain.Address) (pending, queued []uint64) {
	sh := p.shards[p.ShardOf(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	acct := sh.accounts[a]
	if acct == nil {
		return nil, nil
	}
	for _, e := range acct.pending {
		pending = append(pending, e.tx.Nonce)
	}
	for n := range acct.queued {
		queued = append(queued, n)
	}
	slices.Sort(queued)
	return pending, queued
}

func mustAdd(t *testing.T, p *Pool, b []byte) *chain.Tx {
	t.Helper()
	tx, err := p.Add(b)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	return tx
}

func TestAdmissionRejections(t *testing.T) {
	k := key(t, 1)
	poor := key(t, 2)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	// poor has no funds at all.
	p := newPool(t, tc, DefaultConfig(), nil)
	mustAdd(t, p, raw(t, k, spec{nonce: 0}))
	commitFill(t, tc, p) // account nonce is now 1

	bigValue := new(uint256.Int).Mul(oneEther, uint256.NewInt(2))
	cases := []struct {
		name   string
		raw    []byte
		want   error
		detail string // the start of the rejection's detail
	}{
		{"oversized", make([]byte, 2000), chain.ErrOversized, "2000 bytes"},
		{"garbage", []byte{0xc3, 0x01, 0x02, 0x03}, chain.ErrTxDecode, "rlp: "},
		{"fee cap below minimum", raw(t, k, spec{nonce: 1, feeCap: 5e8, tip: 1}), chain.ErrFeeCapTooLow, "fee cap 500000000"},
		{"tip above fee cap", raw(t, k, spec{nonce: 1, feeCap: 2e9, tip: 3e9}), chain.ErrTipAboveFeeCap, "tip 3000000000"},
		{"nonce too low", raw(t, k, spec{nonce: 0, feeCap: 3e9}), chain.ErrNonceTooLow, "address " + addr(k).String()},
		{"nonce checked before balance", raw(t, k, spec{nonce: 0, feeCap: 4e9, value: bigValue.Uint64() / 2}), chain.ErrNonceTooLow, "address"},
		{"sender without funds", raw(t, poor, spec{nonce: 0}), chain.ErrInsufficientFunds, "address " + addr(poor).String() + " have 0"},
		{"insufficient funds", raw(t, k, spec{nonce: 1, value: 1_000_000_000_000_000_000}), chain.ErrInsufficientFunds, "address"},
		{"nonce too far", raw(t, k, spec{nonce: 1 + 1024 + 64}), ErrNonceTooFar, "nonce 1089, account nonce 1, window 1088"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Add(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if te, ok := errors.AsType[*chain.TxError](err); !ok || !strings.HasPrefix(te.Detail(), tc.detail) {
				t.Fatalf("%v: detail of %T does not start with %q", err, err, tc.detail)
			}
		})
	}
	// Duplicates are refused before the signature is looked at again.
	ok := mustAdd(t, p, raw(t, k, spec{nonce: 1}))
	if _, err := p.Add(ok.Raw); !errors.Is(err, ErrAlreadyKnown) {
		t.Fatalf("duplicate: %v", err)
	}
	if p.Len() != 1 {
		t.Fatalf("pool holds %d, want 1", p.Len())
	}
}

func TestPendingQueuedPromotion(t *testing.T) {
	k := key(t, 1)
	a := addr(k)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	p := newPool(t, tc, DefaultConfig(), nil)
	for _, n := range []uint64{0, 2, 3, 5} {
		mustAdd(t, p, raw(t, k, spec{nonce: n}))
	}
	pend, q := p.lists(a)
	if !slices.Equal(pend, []uint64{0}) || !slices.Equal(q, []uint64{2, 3, 5}) {
		t.Fatalf("pending %v queued %v", pend, q)
	}
	mustAdd(t, p, raw(t, k, spec{nonce: 1}))
	pend, q = p.lists(a)
	if !slices.Equal(pend, []uint64{0, 1, 2, 3}) || !slices.Equal(q, []uint64{5}) {
		t.Fatalf("after filling the gap: pending %v queued %v", pend, q)
	}
	if n, ok := p.PendingNonce(a); !ok || n != 4 {
		t.Fatalf("pending nonce %d %v", n, ok)
	}
}

func TestReplacement(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	cases := []struct {
		name        string
		old, next   spec
		wantErr     error
		queuedSlots bool // put both at nonce 3 (queued) instead of 0 (pending)
	}{
		{"both bumped 10%", spec{feeCap: 2e9, tip: 1e9}, spec{feeCap: 2.2e9, tip: 1.1e9}, nil, false},
		{"fee cap short by one wei", spec{feeCap: 2e9, tip: 1e9}, spec{feeCap: 2.2e9 - 1, tip: 2e9}, ErrReplaceUnderpriced, false},
		{"tip not bumped", spec{feeCap: 2e9, tip: 1e9}, spec{feeCap: 4e9, tip: 1e9}, ErrReplaceUnderpriced, false},
		{"cheaper", spec{feeCap: 3e9, tip: 1e9}, spec{feeCap: 2e9, tip: 5e8}, ErrReplaceUnderpriced, false},
		{"legacy bumped", spec{legacy: true, feeCap: 2e9}, spec{legacy: true, feeCap: 2.2e9}, nil, false},
		{"queued replaced", spec{feeCap: 2e9, tip: 1e9}, spec{feeCap: 3e9, tip: 2e9}, nil, true},
		{"queued underpriced", spec{feeCap: 2e9, tip: 1e9}, spec{feeCap: 2.1e9, tip: 1e9}, ErrReplaceUnderpriced, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPool(t, tc, DefaultConfig(), nil)
			if c.queuedSlots {
				c.old.nonce, c.next.nonce = 3, 3
			}
			c.next.value = 1 // a different transaction even when prices match
			old := mustAdd(t, p, raw(t, k, c.old))
			_, err := p.Add(raw(t, k, c.next))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if te, ok := errors.AsType[*chain.TxError](err); err != nil && (!ok || !strings.HasPrefix(te.Detail(), "need fee cap and tip 10% above ")) {
				t.Fatalf("%v: no detail of the price to beat", err)
			}
			_, oldThere := p.Get(old.Hash)
			if oldThere != (c.wantErr != nil) || p.Len() != 1 {
				t.Fatalf("old tx present %v, pool len %d", oldThere, p.Len())
			}
			pend, q := p.lists(addr(k))
			if c.queuedSlots && (len(q) != 1 || len(pend) != 0) || !c.queuedSlots && (len(pend) != 1 || len(q) != 0) {
				t.Fatalf("replacement moved lists: pending %v queued %v", pend, q)
			}
		})
	}
}

func TestSenderLimits(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	cfg := DefaultConfig()
	cfg.MaxPendingPerSender, cfg.MaxQueuedPerSender = 3, 3
	p := newPool(t, tc, cfg, nil)
	for n := range uint64(3) {
		mustAdd(t, p, raw(t, k, spec{nonce: n}))
	}
	if _, err := p.Add(raw(t, k, spec{nonce: 3})); !errors.Is(err, ErrSenderPendingLimit) {
		t.Fatalf("pending limit: %v", err)
	}
	// Nonce 3 would be pending, so 4 is queued.
	mustAdd(t, p, raw(t, k, spec{nonce: 4}))
	if _, err := p.Add(raw(t, k, spec{nonce: 5})); err != nil {
		t.Fatalf("second queued: %v", err)
	}
	if _, err := p.Add(raw(t, k, spec{nonce: 5, feeCap: 5e9, tip: 3e9})); err != nil {
		t.Fatalf("replacement within a full queue: %v", err)
	}
	// Window 3 + 3: nonce 5 is the last allowed.
	if _, err := p.Add(raw(t, k, spec{nonce: 6})); !errors.Is(err, ErrNonceTooFar) {
		t.Fatalf("beyond the window: %v", err)
	}
	cfg.MaxPendingPerSender, cfg.MaxQueuedPerSender = 10, 1
	p2 := newPool(t, tc, cfg, nil)
	mustAdd(t, p2, raw(t, k, spec{nonce: 2}))
	if _, err := p2.Add(raw(t, k, spec{nonce: 3})); !errors.Is(err, ErrSenderQueuedLimit) {
		t.Fatalf("queued limit: %v", err)
	}
}

func TestGlobalLimitEvictsCheapest(t *testing.T) {
	var keys []*KeyT
	for i := range 5 {
		keys = append(keys, key(t, 10+i))
	}
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs = 3
	cfg.ShardShare = float64(cfg.Shards) // no shard limit below the global one
	p := newPool(t, tc, cfg, nil)
	t0 := mustAdd(t, p, raw(t, keys[0], spec{feeCap: 5e9, tip: 4e9}))
	t1 := mustAdd(t, p, raw(t, keys[1], spec{feeCap: 3e9, tip: 2e9}))
	t2 := mustAdd(t, p, raw(t, keys[2], spec{feeCap: 4e9, tip: 3e9}))
	// Cheaper than everything: refused, nothing changes.
	if _, err := p.Add(raw(t, keys[3], spec{feeCap: 2e9, tip: 1e9})); !errors.Is(err, ErrUnderpriced) {
		t.Fatalf("cheap tx: %v", err)
	}
	// Equal to the cheapest: the newcomer is the newest, so it goes.
	if _, err := p.Add(raw(t, keys[3], spec{feeCap: 3e9, tip: 2e9})); !errors.Is(err, ErrUnderpriced) {
		t.Fatalf("equal tx: %v", err)
	}
	// Dearer: the cheapest (t1) is evicted.
	t4 := mustAdd(t, p, raw(t, keys[4], spec{feeCap: 9e9, tip: 9e9}))
	for _, tx := range []*chain.Tx{t0, t2, t4} {
		if _, ok := p.Get(tx.Hash); !ok {
			t.Fatalf("%s evicted", tx.Hash)
		}
	}
	if _, ok := p.Get(t1.Hash); ok || p.Len() != 3 {
		t.Fatalf("cheapest not evicted; len %d", p.Len())
	}
}

func TestQueuedNeverDisplacesPending(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2)}
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs = 2
	cfg.ShardShare = float64(cfg.Shards)
	p := newPool(t, tc, cfg, nil)
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 1, feeCap: 2e9, tip: 1e9}))
	// A very expensive queued transaction cannot push out pending ones.
	if _, err := p.Add(raw(t, keys[1], spec{nonce: 5, feeCap: 90e9, tip: 90e9})); !errors.Is(err, ErrUnderpriced) {
		t.Fatalf("queued vs pending: %v", err)
	}
	// But an expensive pending one can.
	mustAdd(t, p, raw(t, keys[1], spec{nonce: 0, feeCap: 90e9, tip: 90e9}))
	if p.Len() != 2 {
		t.Fatalf("len %d", p.Len())
	}
}

func TestEvictingPendingDemotesLaterNonces(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2)}
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs = 3
	cfg.ShardShare = float64(cfg.Shards)
	p := newPool(t, tc, cfg, nil)
	// Sender 0: cheap nonce 0, dear nonces 1 and 2.
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 1, feeCap: 8e9, tip: 8e9}))
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 2, feeCap: 8e9, tip: 8e9}))
	mustAdd(t, p, raw(t, keys[1], spec{nonce: 0, feeCap: 5e9, tip: 5e9}))
	pend, q := p.lists(addr(keys[0]))
	if len(pend) != 0 || !slices.Equal(q, []uint64{1, 2}) {
		t.Fatalf("sender 0 pending %v queued %v; nonce 0 should be evicted and the rest demoted", pend, q)
	}
	// Refilling the gap promotes them back.
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, feeCap: 9e9, tip: 9e9}))
	if pend, _ := p.lists(addr(keys[0])); !slices.Equal(pend, []uint64{0, 1, 2}) {
		t.Fatalf("after refill: pending %v (the pool must stay within 3, evicting sender 1)", pend)
	}
	if p.Len() != 3 {
		t.Fatalf("len %d", p.Len())
	}
}

func TestShardShare(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Shards, cfg.MaxTxs, cfg.ShardShare = 4, 8, 1 // two per shard
	same := keysInShard(t, 3, 1, 4)
	other := keysInShard(t, 1, 2, 4)
	tc := newTestChain(t, append(same, other...), oneEther)
	p := newPool(t, tc, cfg, nil)
	mustAdd(t, p, raw(t, same[0], spec{feeCap: 3e9, tip: 2e9}))
	mustAdd(t, p, raw(t, same[1], spec{feeCap: 4e9, tip: 2e9}))
	if _, err := p.Add(raw(t, same[2], spec{feeCap: 2e9, tip: 1e9})); !errors.Is(err, ErrShardFull) {
		t.Fatalf("third in one shard: %v", err)
	}
	mustAdd(t, p, raw(t, other[0], spec{})) // another shard has room
	mustAdd(t, p, raw(t, same[2], spec{feeCap: 9e9, tip: 9e9}))
	if st := p.Stats()[1]; st.Pending != 2 {
		t.Fatalf("shard 1 holds %d", st.Pending)
	}
}

func TestBytesLimit(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2), key(t, 3)}
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	one := len(raw(t, keys[0], spec{}))
	cfg.MaxBytes = int64(2*one + one/2)
	cfg.ShardShare = float64(cfg.Shards)
	p := newPool(t, tc, cfg, nil)
	cheap := mustAdd(t, p, raw(t, keys[0], spec{feeCap: 9e9, tip: 2e9}))
	mustAdd(t, p, raw(t, keys[1], spec{feeCap: 9e9, tip: 3e9}))
	mustAdd(t, p, raw(t, keys[2], spec{feeCap: 9e9, tip: 4e9}))
	if _, ok := p.Get(cheap.Hash); ok || p.Len() != 2 || p.Bytes() > cfg.MaxBytes {
		t.Fatalf("len %d bytes %d limit %d", p.Len(), p.Bytes(), cfg.MaxBytes)
	}
}

func TestQueuedExpiry(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	now := &fakeNow{t: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	cfg := DefaultConfig()
	cfg.QueueLifetime = time.Minute
	p := newPool(t, tc, cfg, now)
	mustAdd(t, p, raw(t, k, spec{nonce: 0}))
	mustAdd(t, p, raw(t, k, spec{nonce: 2}))
	now.Advance(30 * time.Second)
	mustAdd(t, p, raw(t, k, spec{nonce: 3}))
	now.Advance(31 * time.Second)
	if n := p.Expire(); n != 1 {
		t.Fatalf("expired %d, want 1 (only the old queued one)", n)
	}
	pend, q := p.lists(addr(k))
	if !slices.Equal(pend, []uint64{0}) || !slices.Equal(q, []uint64{3}) {
		t.Fatalf("pending %v queued %v", pend, q)
	}
	now.Advance(time.Hour)
	if n := p.Expire(); n != 1 || p.Len() != 1 {
		t.Fatalf("expired %d, len %d: pending transactions never expire", n, p.Len())
	}
}

func TestFillOrder(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2), key(t, 3)}
	tc := newTestChain(t, keys, oneEther)
	p := newPool(t, tc, DefaultConfig(), nil)
	a0 := mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, feeCap: 3e9, tip: 2e9})) // price 3
	a1 := mustAdd(t, p, raw(t, keys[0], spec{nonce: 1, feeCap: 9e9, tip: 8e9})) // price 9, behind a0
	b0 := mustAdd(t, p, raw(t, keys[1], spec{nonce: 0, feeCap: 5e9, tip: 4e9})) // price 5
	c0 := mustAdd(t, p, raw(t, keys[2], spec{nonce: 0, feeCap: 6e9, tip: 2e9})) // price 3, later than a0
	c1 := mustAdd(t, p, raw(t, keys[2], spec{nonce: 1, feeCap: 2e9, tip: 1e9})) // price 2
	got := commitFill(t, tc, p)
	want := []*chain.Tx{b0, a0, a1, c0, c1}
	if len(got) != len(want) {
		t.Fatalf("selected %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Hash != want[i].Hash {
			t.Fatalf("position %d: got nonce %d of %s, want nonce %d of %s", i, got[i].Nonce, got[i].From, want[i].Nonce, want[i].From)
		}
	}
	if p.Len() != 0 {
		t.Fatalf("pool holds %d after they were committed", p.Len())
	}
}

// richState reports one sender richer than the chain does, as a pool that
// read the state before a block spent the sender's balance would see it.
type richState struct {
	*chain.Chain
	who   chain.Address
	extra *uint256.Int
}

func (r *richState) Account(a chain.Address) (chain.Account, error) {
	acct, err := r.Chain.Account(a)
	if a == r.who {
		acct.Balance.Add(&acct.Balance, r.extra)
	}
	return acct, err
}

func TestFillStopsAtBlockLimitAndSkipsUnpayable(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2)}
	// Each key can pay for exactly one transfer of 0.4 ether at 2 gwei.
	fee := uint64(chain.TransferGas) * 2e9
	bal := uint256.NewInt(4e17 + fee + 4e17/2)
	tc := newTestChain(t, keys, bal)
	p := newPool(t, tc, DefaultConfig(), nil)
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, value: 4e17, feeCap: 2e9, tip: 1e9}))
	// Payable alone, but not after the one before it.
	if _, err := p.Add(raw(t, keys[0], spec{nonce: 1, value: 4e17, feeCap: 2e9, tip: 1e9})); !errors.Is(err, chain.ErrInsufficientFunds) {
		t.Fatalf("second of sender 0: %v", err)
	}

	// A pool whose view of sender 0 is richer than the block's state holds
	// both; selection skips the one the state cannot pay, and the commit
	// drops it.
	p, err := New(DefaultConfig(), tc.c.Rules(), &richState{Chain: tc.c, who: addr(keys[0]), extra: oneEther}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 0, value: 4e17, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 1, value: 4e17, feeCap: 2e9, tip: 1e9}))
	mustAdd(t, p, raw(t, keys[1], spec{nonce: 0, value: 1, feeCap: 2e9, tip: 1e9}))
	got := commitFill(t, tc, p)
	if len(got) != 2 {
		t.Fatalf("selected %d, want 2 (the second of sender 0 is unpayable)", len(got))
	}
	// After the commit the unpayable transaction has left the pool.
	if p.Len() != 0 {
		t.Fatalf("pool holds %d", p.Len())
	}

	// The block's count limit stops selection.
	var many []*KeyT
	for i := range 30 {
		many = append(many, key(t, 100+i))
	}
	tc2 := newTestChain(t, many, oneEther, func(g *chain.Genesis) { g.Limits.BlockMaxTxs = 12 })
	p2 := newPool(t, tc2, DefaultConfig(), nil)
	for _, k := range many {
		mustAdd(t, p2, raw(t, k, spec{}))
	}
	if got := commitFill(t, tc2, p2); len(got) != 12 || p2.Len() != 18 {
		t.Fatalf("filled %d, %d left", len(got), p2.Len())
	}
}

func TestCommittedUpdatesTouchedSenders(t *testing.T) {
	keys := []*KeyT{key(t, 1), key(t, 2)}
	tc := newTestChain(t, keys, oneEther)
	p := newPool(t, tc, DefaultConfig(), nil)
	for n := range uint64(3) {
		mustAdd(t, p, raw(t, keys[0], spec{nonce: n}))
	}
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 5}))
	other := mustAdd(t, p, raw(t, keys[1], spec{nonce: 1})) // queued: nonce 0 missing

	// A block from elsewhere includes sender 0's nonces 0..3 (a different
	// nonce-3 transaction the pool never saw).
	var block [][]byte
	for n := range uint64(4) {
		block = append(block, raw(t, keys[0], spec{nonce: n, value: 7}))
	}
	commitElsewhere(t, tc, p, block...)
	// 0..2 were included; nonce 5 still waits for 4.
	pn, q := p.lists(addr(keys[0]))
	if len(pn) != 0 || !slices.Equal(q, []uint64{5}) {
		t.Fatalf("sender 0 pending %v queued %v", pn, q)
	}
	if p.Len() != 2 {
		t.Fatalf("pool holds %d, want 2", p.Len())
	}
	mustAdd(t, p, raw(t, keys[0], spec{nonce: 4}))
	if pn, _ := p.lists(addr(keys[0])); !slices.Equal(pn, []uint64{4, 5}) {
		t.Fatalf("after nonce 4: pending %v", pn)
	}
	if _, ok := p.Get(other.Hash); !ok {
		t.Fatal("an untouched sender's transaction was dropped")
	}
	// A balance drop (sender 1 spends nearly all elsewhere) evicts what it
	// can no longer pay.
}

func TestRejectionMetrics(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	m := NewMetrics(nil)
	p, err := New(DefaultConfig(), tc.c.Rules(), tc.c, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	tx := mustAdd(t, p, raw(t, k, spec{}))
	_, _ = p.Add(tx.Raw)
	_, _ = p.Add([]byte{0x01})
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.collector)
	sh := strconv.Itoa(p.ShardOf(tx.From))
	want := fmt.Sprintf("bizra_mempool_admitted_total{shard=%q} 1\n", sh)
	if err := testutil.GatherAndCompare(reg, strings.NewReader("# HELP bizra_mempool_admitted_total Transactions admitted.\n# TYPE bizra_mempool_admitted_total counter\n"+allShards(p, "bizra_mempool_admitted_total", sh, 1)), "bizra_mempool_admitted_total"); err != nil {
		t.Fatal(err, want)
	}
	if v := testutil.ToFloat64(m.Rejected.WithLabelValues("none", "already_known")); v != 1 {
		t.Fatalf("already_known %v", v)
	}
	if v := testutil.ToFloat64(m.Rejected.WithLabelValues("none", "decode")); v != 1 {
		t.Fatalf("decode %v", v)
	}
}

// allShards renders a metric that is v in shard one and 0 elsewhere.
func allShards(p *Pool, name, one string, v int) string {
	var b strings.Builder
	for i := range p.shards {
		n := 0
		if strconv.Itoa(i) == one {
			n = v
		}
		fmt.Fprintf(&b, "%s{shard=\"%d\"} %d\n", name, i, n)
	}
	return b.String()
}

func TestConfigValidate(t *testing.T) {
	c := Config{}
	err := c.Validate()
	if _, newErr := New(c, nil, nil, Options{}); !errors.Is(newErr, ErrInvalidConfig) || !strings.Contains(newErr.Error(), err.Error()) {
		t.Fatalf("New with an invalid config: %v", newErr)
	}
	var keys []string
	for _, fe := range config.FieldErrors(err) {
		keys = append(keys, fe.Key)
	}
	if want := []string{"shards", "max_txs", "max_bytes", "shard_share", "max_pending_per_sender", "queue_lifetime", "price_bump_percent"}; !slices.Equal(keys, want) {
		t.Errorf("field errors for %q, want %q: %v", keys, want, err)
	}
	if !strings.Contains(err.Error(), "shards: must be between 1 and 256, not 0") {
		t.Errorf("message: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// hookState runs a hook on the first read of an account, to place a commit
// inside an admission.
type hookState struct {
	*chain.Chain
	hook func()
}

func (h *hookState) Account(a chain.Address) (chain.Account, error) {
	acct, err := h.Chain.Account(a)
	if f := h.hook; f != nil {
		h.hook = nil
		f()
	}
	return acct, err
}

// TestCommitDuringAdmission commits a block between an admission's state
// read and its insertion: the new transaction must still be pending
// against the committed nonce, not queued behind a spent one.
func TestCommitDuringAdmission(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	hs := &hookState{Chain: tc.c}
	p, err := New(DefaultConfig(), tc.c.Rules(), hs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, p, raw(t, k, spec{nonce: 0}))
	hs.hook = func() { commitFill(t, tc, p) } // includes nonce 0; the pool forgets the sender
	b := mustAdd(t, p, raw(t, k, spec{nonce: 1}))
	if pend, q := p.lists(addr(k)); !slices.Equal(pend, []uint64{1}) || len(q) != 0 {
		t.Fatalf("pending %v queued %v: the admission used a stale nonce", pend, q)
	}
	if got := commitFill(t, tc, p); len(got) != 1 || got[0].Hash != b.Hash {
		t.Fatalf("the next block selected %d transactions", len(got))
	}
	p.checkInvariants(t)
}
