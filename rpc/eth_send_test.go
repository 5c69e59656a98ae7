package rpc

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
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
