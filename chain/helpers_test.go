package chain

import (
	"crypto/ecdsa"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

const testChainID = 4242

var (
	gwei        = uint256.NewInt(1_000_000_000)
	ether       = new(uint256.Int).Mul(gwei, gwei)
	testFeeAddr = Address{0xfe, 0xe5}
)

// testKey returns a deterministic secp256k1 key.
func testKey(t testing.TB, i int) *ecdsa.PrivateKey {
	t.Helper()
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[24:], uint64(i)+1)
	h := Keccak256([]byte("bizra test key"), seed[:])
	k, err := crypto.ToECDSA(h[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyAddr(k *ecdsa.PrivateKey) Address { return crypto.PubkeyToAddress(k.PublicKey) }

// testGenesis funds the given addresses with 100 ether each.
func testGenesis(addrs ...Address) *Genesis {
	g := &Genesis{
		ChainID:     testChainID,
		GenesisTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		BlockTime:   Duration{time.Second},
		Limits:      DefaultLimits(),
		Consensus:   DefaultConsensusParams(),
		Validators: []GenesisValidator{{
			Name:              "v0",
			Address:           testFeeAddr,
			PubKey:            make([]byte, BLSPublicKeySize),
			ProofOfPossession: make([]byte, BLSSignatureSize),
			Stake:             100,
		}},
	}
	g.Validators[0].PubKey[0] = 0xa0
	for _, a := range addrs {
		var bal uint256.Int
		bal.Mul(ether, uint256.NewInt(100))
		g.Accounts = append(g.Accounts, GenesisAccount{Address: a, Balance: U256{bal}})
	}
	return g
}

// txSpec describes a transaction to sign in tests.
type txSpec struct {
	typ      uint8
	nonce    uint64
	to       *Address
	value    *uint256.Int
	gas      uint64
	feeCap   *uint256.Int // gas price for legacy
	tip      *uint256.Int
	data     []byte
	access   types.AccessList
	chainID  uint64
	unsigned bool
}

func (s txSpec) withDefaults() txSpec {
	if s.to == nil {
		a := Address{0x01, 0x02}
		s.to = &a
	}
	if s.value == nil {
		s.value = uint256.NewInt(1000)
	}
	if s.gas == 0 {
		s.gas = TransferGas
	}
	if s.feeCap == nil {
		s.feeCap = new(uint256.Int).Mul(gwei, uint256.NewInt(2))
	}
	if s.tip == nil {
		s.tip = gwei
	}
	if s.chainID == 0 {
		s.chainID = testChainID
	}
	return s
}

func signTx(t testing.TB, k *ecdsa.PrivateKey, s txSpec) *types.Transaction {
	t.Helper()
	s = s.withDefaults()
	id := new(big.Int).SetUint64(s.chainID)
	var inner types.TxData
	switch s.typ {
	case types.LegacyTxType:
		inner = &types.LegacyTx{Nonce: s.nonce, GasPrice: s.feeCap.ToBig(), Gas: s.gas, To: s.to, Value: s.value.ToBig(), Data: s.data}
	case types.AccessListTxType:
		inner = &types.AccessListTx{ChainID: id, Nonce: s.nonce, GasPrice: s.feeCap.ToBig(), Gas: s.gas, To: s.to, Value: s.value.ToBig(), Data: s.data, AccessList: s.access}
	case types.DynamicFeeTxType:
		inner = &types.DynamicFeeTx{ChainID: id, Nonce: s.nonce, GasTipCap: s.tip.ToBig(), GasFeeCap: s.feeCap.ToBig(), Gas: s.gas, To: s.to, Value: s.value.ToBig(), Data: s.data, AccessList: s.access}
	default:
		t.Fatalf("unsupported test tx type %d", s.typ)
	}
	tx := types.NewTx(inner)
	signed, err := types.SignTx(tx, types.NewLondonSigner(id), k)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func rawTx(t testing.TB, k *ecdsa.PrivateKey, s txSpec) []byte {
	t.Helper()
	b, err := signTx(t, k, s).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifiedTx signs a transfer and builds the Tx without recovering the sender.
func verifiedTx(t testing.TB, r *Rules, k *ecdsa.PrivateKey, s txSpec) *Tx {
	t.Helper()
	tx, err := r.NewVerifiedTx(signTx(t, k, s), keyAddr(k))
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// openMemChain opens a chain on a fresh in-memory filesystem.
func openMemChain(t testing.TB, g *Genesis) (*Chain, vfs.FS) {
	t.Helper()
	fs := vfs.NewCrashableMem()
	return openChainOn(t, fs, g), fs
}

func openChainOn(t testing.TB, fs vfs.FS, g *Genesis) *Chain {
	t.Helper()
	o := DefaultStoreOptions()
	o.FS = fs
	o.CacheBytes = 8 << 20
	o.MemTableBytes = 4 << 20
	st, err := OpenStore("db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := New(st, g, DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustBalance returns the committed balance of addr.
func mustAccount(t testing.TB, r StateReader, a Address) Account {
	t.Helper()
	acct, err := r.Account(a)
	if err != nil {
		t.Fatal(err)
	}
	return acct
}
