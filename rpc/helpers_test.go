package rpc

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"flag"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

const testChainID = 31337

var feeAddr = chain.Address{0xfe, 0xe1}

func testKey(t testing.TB, i int) *ecdsa.PrivateKey {
	t.Helper()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("rpc test key"), b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// poolAdapter is the node's adapter, repeated for tests of this package.
type poolAdapter struct{ *mempool.Pool }

func (p poolAdapter) Stats() any { return p.Pool.Stats() }

type chainAdapter struct{ *chain.Chain }

func (c chainAdapter) Block(h uint64) (*chain.Block, error)       { return c.Store().Block(h) }
func (c chainAdapter) Header(h uint64) (*chain.Header, error)     { return c.Store().Header(h) }
func (c chainAdapter) BlockHeight(h chain.Hash) (uint64, error)   { return c.Store().BlockHeight(h) }
func (c chainAdapter) Receipts(h uint64) ([]chain.Receipt, error) { return c.Store().Receipts(h) }
func (c chainAdapter) TxLocation(h chain.Hash) (uint64, uint32, error) {
	return c.Store().TxLocation(h)
}

// env is a chain with two committed blocks of transfers, a pool, and a
// server mounted on an httptest server.
type env struct {
	t     testing.TB
	keys  []*ecdsa.PrivateKey
	chain *chain.Chain
	pool  *mempool.Pool
	srv   *Server
	http  *httptest.Server
	txs   []*chain.Tx // committed, in order
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	return newEnvWith(t, cfg, envOptions{})
}

// envOptions vary newEnv.
type envOptions struct {
	// fedPool wires the pool's admissions to the server's feed, as the
	// node does; otherwise tests call the feed themselves.
	fedPool bool
	// funded adds accounts funded at genesis, keys 3, 4, … (testKey).
	funded int
	// door, if set, makes the server's Admission from the pool.
	door func(*mempool.Pool) Admission
}

func newEnvWith(t testing.TB, cfg Config, eo envOptions) *env {
	t.Helper()
	e := &env{t: t}
	g := &chain.Genesis{
		ChainID:     testChainID,
		GenesisTime: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		BlockTime:   chain.Duration{Duration: time.Second},
		Limits:      chain.DefaultLimits(),
		Consensus:   chain.DefaultConsensusParams(),
		Validators: []chain.GenesisValidator{{
			Name: "v", Address: feeAddr, Stake: 1,
			PubKey: append([]byte{1}, make([]byte, chain.BLSPublicKeySize-1)...), ProofOfPossession: make([]byte, chain.BLSSignatureSize),
		}},
	}
	for i := range 3 + eo.funded {
		k := testKey(t, i)
		e.keys = append(e.keys, k)
		g.Accounts = append(g.Accounts, chain.GenesisAccount{Address: crypto.PubkeyToAddress(k.PublicKey), Balance: chain.U256{Int: *uint256.NewInt(1e18)}})
	}
	o := chain.DefaultStoreOptions()
	o.FS, o.CacheBytes, o.MemTableBytes = vfs.NewMem(), 4<<20, 4<<20
	st, err := chain.OpenStore("db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if e.chain, err = chain.New(st, g, chain.DefaultConfig(), nil, nil); err != nil {
		t.Fatal(err)
	}
	var feed *Feed
	po := mempool.Options{}
	if eo.fedPool {
		feed = NewFeed(chainAdapter{e.chain}, nil)
		po.OnAdmit = feed.NotifyTx
	}
	if e.pool, err = mempool.New(mempool.DefaultConfig(), e.chain.Rules(), e.chain, po); err != nil {
		t.Fatal(err)
	}
	// Two blocks: a legacy and a dynamic-fee transfer, then an access-list one.
	e.commit(1_780_000_001_000, e.sign(0, 0, types.LegacyTxType, 1000), e.sign(1, 0, types.DynamicFeeTxType, 2000))
	e.commit(1_780_000_002_500, e.sign(0, 1, types.AccessListTxType, 3000))
	so := Options{ClientVersion: "bizra/test", TxMessages: testPoolMessages, Feed: feed}
	if eo.door != nil {
		so.Admission = eo.door(e.pool)
	}
	if e.srv, err = NewServer(cfg, chainAdapter{e.chain}, poolAdapter{e.pool}, so); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// testPoolMessages is part of the node's mapping: the rules these tests
// meet but one, so that the golden file shows an unmapped rule's fallback.
var testPoolMessages = TxMessages{
	{Rule: mempool.ErrAlreadyKnown, Message: "already known"},
	{Rule: mempool.ErrReplaceUnderpriced, Message: "replacement transaction underpriced"},
}

// sign signs a transfer from key i to key 2 (or a fixed address).
func (e *env) sign(i int, nonce uint64, typ uint8, value int64) []byte {
	e.t.Helper()
	to := chain.Address{0x70, 0x71}
	id := big.NewInt(testChainID)
	var inner types.TxData
	switch typ {
	case types.LegacyTxType:
		inner = &types.LegacyTx{Nonce: nonce, GasPrice: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(value)}
	case types.AccessListTxType:
		inner = &types.AccessListTx{ChainID: id, Nonce: nonce, GasPrice: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(value)}
	default:
		inner = &types.DynamicFeeTx{ChainID: id, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(4e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(value)}
	}
	tx, err := types.SignTx(types.NewTx(inner), types.NewLondonSigner(id), e.keys[i])
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := tx.MarshalBinary()
	return b
}

func (e *env) commit(ts uint64, raws ...[]byte) *chain.Pending {
	e.t.Helper()
	b := e.chain.NewBuilder(chain.BuildParams{Proposer: feeAddr, Timestamp: ts})
	for _, raw := range raws {
		tx, err := e.chain.Rules().DecodeTx(raw)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := b.Add(tx); err != nil {
			e.t.Fatal(err)
		}
		e.txs = append(e.txs, tx)
	}
	p := b.Finish()
	if err := e.chain.Commit(p); err != nil {
		e.t.Fatal(err)
	}
	if e.pool != nil {
		e.pool.Committed(p.Changes())
	}
	return p
}

// post sends a raw body and returns the status and the body of the answer.
func (e *env) post(body string) (int, []byte) {
	e.t.Helper()
	resp, err := http.Post(e.http.URL, "application/json", bytes.NewBufferString(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// call makes one call and returns its result or error object.
func (e *env) call(method string, params ...any) (json.RawMessage, *Error) {
	e.t.Helper()
	if params == nil {
		params = []any{}
	}
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	_, body := e.post(string(req))
	var resp struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		e.t.Fatalf("%s: undecodable answer %s: %v", method, body, err)
	}
	if string(resp.ID) != "7" {
		e.t.Fatalf("%s: answer has id %s", method, resp.ID)
	}
	return resp.Result, resp.Error
}

// golden compares got (indented JSON) with testdata/golden/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs from golden:\n got: %s\nwant: %s", name, buf.Bytes(), want)
	}
}
