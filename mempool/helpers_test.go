package mempool

import (
	"crypto/ecdsa"
	"encoding/binary"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

const testChainID = 777

var (
	gwei     = uint256.NewInt(1_000_000_000)
	feeAddr  = chain.Address{0xfe, 0xe0}
	oneEther = new(uint256.Int).Mul(gwei, gwei)
)

// key returns deterministic key i.
func key(t testing.TB, i int) *ecdsa.PrivateKey {
	t.Helper()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("mempool test key"), b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addr(k *ecdsa.PrivateKey) chain.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// keysInShard returns n keys whose addresses fall in the given shard.
func keysInShard(t testing.TB, n, shard, shards int) []*ecdsa.PrivateKey {
	var out []*ecdsa.PrivateKey
	for i := 1_000_000; len(out) < n; i++ {
		k := key(t, i)
		if int(addr(k)[0])%shards == shard {
			out = append(out, k)
		}
	}
	return out
}

// KeyT keeps test signatures short.
type KeyT = ecdsa.PrivateKey

// testChain is a real chain on an in-memory filesystem with funded keys.
type testChain struct {
	c    *chain.Chain
	keys []*ecdsa.PrivateKey
}

func newTestChain(t testing.TB, keys []*ecdsa.PrivateKey, balance *uint256.Int, edit ...func(*chain.Genesis)) *testChain {
	t.Helper()
	g := &chain.Genesis{
		ChainID:     testChainID,
		GenesisTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		BlockTime:   chain.Duration{Duration: time.Second},
		Limits:      chain.DefaultLimits(),
		Consensus:   chain.DefaultConsensusParams(),
		Validators: []chain.GenesisValidator{{
			Name: "v", Address: feeAddr, Stake: 1,
			PubKey: append([]byte{1}, make([]byte, chain.BLSPublicKeySize-1)...), ProofOfPossession: make([]byte, chain.BLSSignatureSize),
		}},
	}
	for _, k := range keys {
		g.Accounts = append(g.Accounts, chain.GenesisAccount{Address: addr(k), Balance: chain.U256{Int: *balance}})
	}
	for _, f := range edit {
		f(g)
	}
	o := chain.DefaultStoreOptions()
	o.FS = vfs.NewMem()
	o.CacheBytes, o.MemTableBytes = 4<<20, 4<<20
	st, err := chain.OpenStore("db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := chain.New(st, g, chain.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testChain{c: c, keys: keys}
}

// spec describes a transfer to sign.
type spec struct {
	nonce  uint64
	feeCap uint64 // wei; default 2 gwei
	tip    uint64 // wei; default 1 gwei
	value  uint64
	legacy bool
}

var sigCache sync.Map // spec+key → raw, so that model tests sign each transaction once

type sigKey struct {
	k *ecdsa.PrivateKey
	s spec
}

// raw signs s with k.
func raw(t testing.TB, k *ecdsa.PrivateKey, s spec) []byte {
	t.Helper()
	if s.feeCap == 0 {
		s.feeCap = 2e9
	}
	if s.tip == 0 && !s.legacy {
		s.tip = 1e9
	}
	if v, ok := sigCache.Load(sigKey{k, s}); ok {
		return v.([]byte)
	}
	to := chain.Address{0x70, 0x70}
	id := big.NewInt(testChainID)
	var inner types.TxData
	if s.legacy {
		inner = &types.LegacyTx{Nonce: s.nonce, GasPrice: new(big.Int).SetUint64(s.feeCap), Gas: chain.TransferGas, To: &to, Value: new(big.Int).SetUint64(s.value)}
	} else {
		inner = &types.DynamicFeeTx{ChainID: id, Nonce: s.nonce, GasTipCap: new(big.Int).SetUint64(s.tip), GasFeeCap: new(big.Int).SetUint64(s.feeCap), Gas: chain.TransferGas, To: &to, Value: new(big.Int).SetUint64(s.value)}
	}
	signed, err := types.SignTx(types.NewTx(inner), types.NewLondonSigner(id), k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sigCache.Store(sigKey{k, s}, b)
	return b
}

// fakeNow is a settable clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newPool(t testing.TB, tc *testChain, cfg Config, now *fakeNow) *Pool {
	t.Helper()
	o := Options{}
	if now != nil {
		o.Now = now.Now
	}
	p, err := New(cfg, tc.c.Rules(), tc.c, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// commitFill builds a block from the pool, commits it and tells the pool.
func commitFill(t testing.TB, tc *testChain, p *Pool) []*chain.Tx {
	t.Helper()
	b := tc.c.NewBuilder(chain.BuildParams{Proposer: feeAddr})
	p.Fill(b)
	pend := b.Finish()
	if err := tc.c.Commit(pend); err != nil {
		t.Fatal(err)
	}
	p.Committed(pend.Changes())
	return pend.Txs
}

// commitElsewhere commits a block built elsewhere from raws (transactions
// the pool may never have seen) and tells the pool.
func commitElsewhere(t testing.TB, tc *testChain, p *Pool, raws ...[]byte) {
	t.Helper()
	b := tc.c.NewBuilder(chain.BuildParams{Proposer: feeAddr})
	for _, r := range raws {
		tx, err := tc.c.Rules().DecodeTx(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	pend := b.Finish()
	if err := tc.c.Commit(pend); err != nil {
		t.Fatal(err)
	}
	p.Committed(pend.Changes())
}
