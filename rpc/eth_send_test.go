package rpc

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

// TestTxRejections pins the whole error object a client receives for each
// rejection eth_sendRawTransaction can give: ethers.js and viem match on
// these messages, so a change of wording shows in the golden file.
func TestTxRejections(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	id := big.NewInt(testChainID)
	to := chain.Address{0x70, 0x71}
	signed := func(inner types.TxData, signer types.Signer) string {
		t.Helper()
		tx, err := types.SignTx(types.NewTx(inner), signer, e.keys[1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return hexutil.Encode(b)
	}
	unsigned := func(inner types.TxData) string {
		t.Helper()
		b, err := types.NewTx(inner).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return hexutil.Encode(b)
	}
	london := types.NewLondonSigner(id)
	dyn := func(edit func(*types.DynamicFeeTx)) string {
		tx := &types.DynamicFeeTx{ChainID: id, Nonce: 1, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(4e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(1)}
		edit(tx)
		return signed(tx, london)
	}
	// The pool holds key 2's nonce 0, so that a resend is known and a
	// cheaper one at the same nonce is an underpriced replacement.
	if _, err := e.pool.Add(e.sign(2, 0, types.DynamicFeeTxType, 5)); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, raw string }{
		{"empty", "0x"},
		{"garbage", "0x02c0"},
		{"oversized", hexutil.Encode(make([]byte, chain.DefaultLimits().MaxTxBytes+1))},
		{"blob type", "0x03c0"},
		{"unprotected legacy", signed(&types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(1)}, types.HomesteadSigner{})},
		{"wrong chain id", signed(&types.DynamicFeeTx{ChainID: big.NewInt(5), Nonce: 1, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(4e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(1)}, types.NewLondonSigner(big.NewInt(5)))},
		{"contract creation", dyn(func(tx *types.DynamicFeeTx) { tx.To = nil })},
		{"data", dyn(func(tx *types.DynamicFeeTx) { tx.Data = []byte{1, 2} })},
		{"access list", dyn(func(tx *types.DynamicFeeTx) { tx.AccessList = types.AccessList{{Address: to}} })},
		{"gas limit", dyn(func(tx *types.DynamicFeeTx) { tx.Gas = 30000 })},
		{"value overflow", signed(&types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: new(big.Int).Lsh(big.NewInt(1), 256)}, types.NewEIP155Signer(id))},
		{"cost overflow", signed(&types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(3e9), Gas: chain.TransferGas, To: &to, Value: new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))}, types.NewEIP155Signer(id))},
		{"fee cap below base fee", dyn(func(tx *types.DynamicFeeTx) { tx.GasFeeCap, tx.GasTipCap = big.NewInt(5e8), big.NewInt(1e8) })},
		{"tip above fee cap", dyn(func(tx *types.DynamicFeeTx) { tx.GasTipCap = big.NewInt(5e9) })},
		{"invalid signature", unsigned(&types.DynamicFeeTx{ChainID: id, Nonce: 1, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(4e9), Gas: chain.TransferGas, To: &to, Value: big.NewInt(1), V: big.NewInt(0), R: big.NewInt(0), S: big.NewInt(1)})},
		{"nonce too low", dyn(func(tx *types.DynamicFeeTx) { tx.Nonce = 0 })},
		{"nonce too far", dyn(func(tx *types.DynamicFeeTx) { tx.Nonce = 5000 })},
		{"insufficient funds", dyn(func(tx *types.DynamicFeeTx) { tx.Value = big.NewInt(2e18) })},
		{"already known", hexutil.Encode(e.sign(2, 0, types.DynamicFeeTxType, 5))},
		{"replacement underpriced", hexutil.Encode(e.sign(2, 0, types.DynamicFeeTxType, 6))},
	}
	got := make(map[string]*Error, len(cases))
	for _, tc := range cases {
		res, rerr := e.call("eth_sendRawTransaction", tc.raw)
		if rerr == nil {
			t.Fatalf("%s: accepted as %s", tc.name, res)
		}
		got[tc.name] = rerr
	}
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tx_rejections.json", out)
}

// TestTxpoolFull checks the door over HTTP: what does not fit is refused
// before it is decoded, with the documented error, and one client flooding
// leaves room for another (clients are told apart by address: 127.0.0.1
// and 127.0.0.2 are both loopback).
func TestTxpoolFull(t *testing.T) {
	var door *mempool.Admission
	e := newEnvWith(t, DefaultConfig(), envOptions{funded: 80, door: func(p *mempool.Pool) Admission {
		door = mempool.NewAdmission(p, time.Second, 40, nil, nil)
		return door
	}})
	if door.Limit() != 40 {
		t.Fatalf("limit %d, want 40", door.Limit())
	}
	clientFrom := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	send := func(c *http.Client, raw []byte) *Error {
		t.Helper()
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": []any{hexutil.Bytes(raw)}})
		resp, err := c.Post(e.http.URL, "application/json", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Result *chain.Hash `json:"result"`
			Error  *Error      `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out.Error == nil && out.Result == nil {
			t.Fatal("answer has neither result nor error")
		}
		return out.Error
	}
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	head := func() uint64 { h, _ := e.chain.Head(); return h.Timestamp }
	door.Committed(0, head(), 0)

	// Block 1: client A alone fills the bound.
	var block1 [][]byte
	for i := range 40 {
		raw := e.sign(3+i, 0, types.DynamicFeeTxType, 1)
		if err := send(a, raw); err != nil {
			t.Fatalf("transfer %d refused below the bound: %+v", i, err)
		}
		block1 = append(block1, raw)
	}
	err := send(a, e.sign(43, 0, types.DynamicFeeTxType, 1))
	if err == nil || err.Code != CodeLimitExceeded || err.Message != MessagePoolFull {
		t.Fatalf("over the bound: %+v, want code -32005 %q", err, MessagePoolFull)
	}
	data, _ := json.Marshal(err.Data)
	var full PoolFull
	if json.Unmarshal(data, &full) != nil || full.Reason != "capacity" || full.RetryAfterMs < 100 {
		t.Fatalf("refusal data %s, want reason capacity and a retry hint", data)
	}
	// The door is before decoding: junk is refused the same way, not
	// decoded.
	if err := send(a, []byte{0x02, 0xff}); err == nil || err.Message != MessagePoolFull {
		t.Fatalf("junk over the bound: %+v, want txpool is full", err)
	}

	// The block takes them; block 2: A floods, B sends a few. A takes the
	// lower half and its share; B is not starved.
	e.commit(head()+1000, block1...)
	door.Committed(40, head(), 0)
	if err := send(b, e.sign(50, 0, types.DynamicFeeTxType, 1)); err != nil {
		t.Fatalf("B's first: %+v", err)
	}
	gotA, shareRefusals := 0, 0
	for i := range 30 {
		err := send(a, e.sign(3+i, 1, types.DynamicFeeTxType, 1))
		switch {
		case err == nil:
			gotA++
		case err.Message == MessagePoolFull:
			data, _ := json.Marshal(err.Data)
			if json.Unmarshal(data, &full) == nil && full.Reason == "client_share" {
				shareRefusals++
			}
		default:
			t.Fatalf("A's transfer %d: %+v", i, err)
		}
	}
	gotB := 1
	for i := range 5 {
		if err := send(b, e.sign(51+i, 0, types.DynamicFeeTxType, 1)); err != nil {
			t.Fatalf("B's transfer %d refused while A floods: %+v", i, err)
		}
		gotB++
	}
	if gotA != 20 || shareRefusals != 10 {
		t.Fatalf("A got %d with %d client_share refusals, want its share of 20 and 10 refused", gotA, shareRefusals)
	}
	if gotB != 6 {
		t.Fatalf("B got %d of 6", gotB)
	}
}
