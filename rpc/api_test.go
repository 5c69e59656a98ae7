package rpc

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
)

func TestMethods(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	a0 := crypto.PubkeyToAddress(e.keys[0].PublicKey).Hex()
	b1, err := e.chain.Store().Block(1)
	if err != nil {
		t.Fatal(err)
	}
	h1 := b1.Hash().Hex()
	tx0 := e.txs[0].Hash.Hex()
	pending := e.sign(2, 0, types.DynamicFeeTxType, 5)
	ptx, err := e.pool.Add(pending)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		method string
		params []any
		want   string // exact JSON result, or
		check  func(t *testing.T, res json.RawMessage)
		code   int    // expected error code (0: success)
		msg    string // part of the error message
	}{
		{name: "client version", method: "web3_clientVersion", check: contains("bizra/test/")},
		{name: "sha3", method: "web3_sha3", params: []any{"0x68656c6c6f"}, want: `"0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"`},
		{name: "net version", method: "net_version", want: `"31337"`},
		{name: "net listening", method: "net_listening", want: `true`},
		{name: "peer count", method: "net_peerCount", want: `"0x0"`},
		{name: "chain id", method: "eth_chainId", want: `"0x7a69"`},
		{name: "syncing", method: "eth_syncing", want: `false`},
		{name: "block number", method: "eth_blockNumber", want: `"0x2"`},
		{name: "balance latest", method: "eth_getBalance", params: []any{a0, "latest"}, check: func(t *testing.T, r json.RawMessage) {
			var v hexutil.Big
			mustDecode(t, r, &v)
			if v.ToInt().Sign() <= 0 || v.ToInt().Cmp(bigInt(1e18)) >= 0 {
				t.Fatalf("balance %s", v.ToInt())
			}
		}},
		{name: "balance default block", method: "eth_getBalance", params: []any{a0}, check: nonEmpty},
		{name: "balance unknown account", method: "eth_getBalance", params: []any{"0x0000000000000000000000000000000000000009", "latest"}, want: `"0x0"`},
		{name: "balance old block", method: "eth_getBalance", params: []any{a0, "0x1"}, code: CodeServer, msg: "only the latest state"},
		{name: "balance future block", method: "eth_getBalance", params: []any{a0, "0x99"}, code: CodeNotFound},
		{name: "balance by block hash object", method: "eth_getBalance", params: []any{a0, map[string]any{"blockHash": h1}}, code: CodeServer},
		{name: "balance bad address", method: "eth_getBalance", params: []any{"0x12", "latest"}, code: CodeInvalidParams},
		{name: "balance missing address", method: "eth_getBalance", code: CodeInvalidParams, msg: "missing value"},
		{name: "balance too many args", method: "eth_getBalance", params: []any{a0, "latest", 1}, code: CodeInvalidParams, msg: "too many"},
		{name: "balance bad tag", method: "eth_getBalance", params: []any{a0, "newest"}, code: CodeInvalidParams},
		{name: "balance huge number", method: "eth_getBalance", params: []any{a0, "0x1ffffffffffffffffff"}, code: CodeInvalidParams},
		{name: "nonce latest", method: "eth_getTransactionCount", params: []any{a0, "latest"}, want: `"0x2"`},
		{name: "nonce pending with pool", method: "eth_getTransactionCount", params: []any{crypto.PubkeyToAddress(e.keys[2].PublicKey).Hex(), "pending"}, want: `"0x1"`},
		{name: "nonce pending without pool", method: "eth_getTransactionCount", params: []any{a0, "pending"}, want: `"0x2"`},
		{name: "code", method: "eth_getCode", params: []any{a0, "latest"}, want: `"0x"`},
		{name: "storage", method: "eth_getStorageAt", params: []any{a0, "0x0", "latest"}, want: `"0x0000000000000000000000000000000000000000000000000000000000000000"`},
		{name: "call transfer", method: "eth_call", params: []any{map[string]any{"from": a0, "to": a0, "value": "0x1"}, "latest"}, want: `"0x"`},
		{name: "call with data", method: "eth_call", params: []any{map[string]any{"to": a0, "data": "0x1234"}}, code: CodeServer, msg: "no EVM"},
		{name: "call creation", method: "eth_call", params: []any{map[string]any{"data": "0x00"}}, code: CodeServer, msg: "contract creation"},
		{name: "estimate transfer", method: "eth_estimateGas", params: []any{map[string]any{"from": a0, "to": a0, "value": "0x1"}}, want: `"0x5208"`},
		{name: "estimate with input", method: "eth_estimateGas", params: []any{map[string]any{"to": a0, "input": "0x01"}}, code: CodeServer},
		{name: "estimate unaffordable", method: "eth_estimateGas", params: []any{map[string]any{"from": a0, "to": a0, "value": "0xffffffffffffffffffffffff"}}, code: CodeServer, msg: "insufficient funds"},
		{name: "estimate with every request field", method: "eth_estimateGas", params: []any{map[string]any{"from": a0, "to": a0, "value": "0x1", "gas": "0x5208", "gasPrice": nil,
			"maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x2", "chainId": "0x7a69", "type": "0x2", "accessList": []any{}, "data": "0x"}}, want: `"0x5208"`},
		{name: "estimate malformed gas", method: "eth_estimateGas", params: []any{map[string]any{"to": a0, "gas": "21000"}}, code: CodeInvalidParams, msg: "hexutil.Uint64"},
		{name: "estimate fee over 256 bits", method: "eth_estimateGas", params: []any{map[string]any{"to": a0, "maxFeePerGas": "0x1" + strings.Repeat("0", 64)}}, code: CodeInvalidParams, msg: "256 bits"},
		{name: "estimate wrong type", method: "eth_estimateGas", params: []any{"not an object"}, code: CodeInvalidParams},
		{name: "gas price", method: "eth_gasPrice", want: `"0x77359400"`},
		{name: "max priority fee", method: "eth_maxPriorityFeePerGas", want: `"0x3b9aca00"`},
		{name: "fee history", method: "eth_feeHistory", params: []any{"0x2", "latest", []float64{50}}, check: func(t *testing.T, r json.RawMessage) {
			var fh struct {
				OldestBlock   hexutil.Uint64  `json:"oldestBlock"`
				BaseFeePerGas []hexutil.Big   `json:"baseFeePerGas"`
				GasUsedRatio  []float64       `json:"gasUsedRatio"`
				Reward        [][]hexutil.Big `json:"reward"`
			}
			mustDecode(t, r, &fh)
			if fh.OldestBlock != 1 || len(fh.BaseFeePerGas) != 3 || len(fh.GasUsedRatio) != 2 || len(fh.Reward) != 2 || fh.GasUsedRatio[0] <= 0 {
				t.Fatalf("fee history %s", r)
			}
			// Block 1 paid 3 gwei (legacy) and 2 gwei (1+1): the median tip is 1 or 2 gwei.
			if tip := fh.Reward[0][0].ToInt().Int64(); tip != 1e9 && tip != 2e9 {
				t.Fatalf("median tip %d", tip)
			}
		}},
		{name: "fee history zero blocks", method: "eth_feeHistory", params: []any{"0x0", "latest"}, code: CodeInvalidParams},
		{name: "fee history bad percentiles", method: "eth_feeHistory", params: []any{"0x1", "latest", []float64{60, 10}}, code: CodeInvalidParams},
		{name: "tx by hash committed", method: "eth_getTransactionByHash", params: []any{tx0}, check: field("blockNumber", `"0x1"`)},
		{name: "tx by hash pending", method: "eth_getTransactionByHash", params: []any{ptx.Hash.Hex()}, check: field("blockHash", `null`)},
		{name: "tx by hash unknown", method: "eth_getTransactionByHash", params: []any{chain.Hash{9}.Hex()}, want: `null`},
		{name: "tx by hash bad hash", method: "eth_getTransactionByHash", params: []any{"0x1234"}, code: CodeInvalidParams},
		{name: "receipt", method: "eth_getTransactionReceipt", params: []any{tx0}, check: field("status", `"0x1"`)},
		{name: "block receipts", method: "eth_getBlockReceipts", params: []any{"0x1"}, check: func(t *testing.T, r json.RawMessage) {
			var rs []struct {
				TransactionHash string         `json:"transactionHash"`
				Status          hexutil.Uint64 `json:"status"`
				GasUsed         hexutil.Uint64 `json:"gasUsed"`
			}
			mustDecode(t, r, &rs)
			if len(rs) != 2 || !strings.EqualFold(rs[0].TransactionHash, tx0) || rs[1].Status != 1 || rs[1].GasUsed != 21000 {
				t.Fatalf("block receipts %s", r)
			}
		}},
		{name: "block receipts by hash", method: "eth_getBlockReceipts", params: []any{map[string]any{"blockHash": h1}}, check: contains(`"status":"0x1"`)},
		{name: "block receipts beyond head", method: "eth_getBlockReceipts", params: []any{"0x64"}, want: `null`},
		{name: "block receipts bad block", method: "eth_getBlockReceipts", params: []any{"soon"}, code: CodeInvalidParams},
		{name: "receipt pending", method: "eth_getTransactionReceipt", params: []any{ptx.Hash.Hex()}, want: `null`},
		{name: "block by number hashes", method: "eth_getBlockByNumber", params: []any{"0x1", false}, check: field("hash", `"`+strings.ToLower(h1)+`"`)},
		{name: "block latest", method: "eth_getBlockByNumber", params: []any{"latest", false}, check: field("number", `"0x2"`)},
		{name: "block earliest", method: "eth_getBlockByNumber", params: []any{"earliest", false}, check: field("number", `"0x0"`)},
		{name: "block pending", method: "eth_getBlockByNumber", params: []any{"pending", true}, check: field("number", `"0x2"`)},
		{name: "block safe", method: "eth_getBlockByNumber", params: []any{"safe", false}, check: field("number", `"0x2"`)},
		{name: "block finalized", method: "eth_getBlockByNumber", params: []any{"finalized", false}, check: field("number", `"0x2"`)},
		{name: "block beyond head", method: "eth_getBlockByNumber", params: []any{"0x64", false}, want: `null`},
		{name: "block by hash", method: "eth_getBlockByHash", params: []any{h1, true}, check: field("number", `"0x1"`)},
		{name: "block by unknown hash", method: "eth_getBlockByHash", params: []any{chain.Hash{1}.Hex(), false}, want: `null`},
		{name: "block full flag wrong type", method: "eth_getBlockByNumber", params: []any{"0x1", "yes"}, code: CodeInvalidParams},
		{name: "tx count by number", method: "eth_getBlockTransactionCountByNumber", params: []any{"0x1"}, want: `"0x2"`},
		{name: "tx count by hash", method: "eth_getBlockTransactionCountByHash", params: []any{h1}, want: `"0x2"`},
		{name: "tx count unknown block", method: "eth_getBlockTransactionCountByNumber", params: []any{"0x77"}, want: `null`},
		{name: "tx by number and index", method: "eth_getTransactionByBlockNumberAndIndex", params: []any{"0x1", "0x1"}, check: field("hash", `"`+strings.ToLower(e.txs[1].Hash.Hex())+`"`)},
		{name: "tx by number and index past end", method: "eth_getTransactionByBlockNumberAndIndex", params: []any{"0x1", "0x5"}, want: `null`},
		{name: "tx by hash and index", method: "eth_getTransactionByBlockHashAndIndex", params: []any{h1, "0x0"}, check: field("hash", `"`+strings.ToLower(tx0)+`"`)},
		{name: "accounts", method: "eth_accounts", want: `[]`},
		{name: "subscribe over http", method: "eth_subscribe", params: []any{"newHeads"}, code: CodeMethodNotFound},
		{name: "unknown method", method: "eth_compileSolidity", code: CodeMethodNotFound},
		{name: "bizra status", method: "bizra_status", check: field("height", `"0x2"`)},
		{name: "bizra validators", method: "bizra_validators", check: contains(`"stake":"0x1"`)},
		{name: "bizra mempool", method: "bizra_mempool", check: contains(`"txs":1`)},
		{name: "bizra peers", method: "bizra_peers", want: `[]`},
		{name: "bizra certificate", method: "bizra_getBlockCertificate", params: []any{"latest"}, check: field("certificate", `"0x"`)},
		{name: "bizra raw blocks", method: "bizra_getRawBlocks", params: []any{"0x1", "0x5"}, check: func(t *testing.T, r json.RawMessage) {
			var rbs []RawBlock
			mustDecode(t, r, &rbs)
			if len(rbs) != 2 || rbs[0].Number != 1 || rbs[1].Number != 2 {
				t.Fatalf("raw blocks %s", r)
			}
			b, err := chain.DecodeBlock(rbs[0].Block)
			if err != nil || !strings.EqualFold(b.Hash().Hex(), h1) || len(b.Txs) != 2 {
				t.Fatalf("raw block 1 decodes to %v, %v", b, err)
			}
			rs, err := chain.DecodeReceipts(rbs[0].Receipts)
			if err != nil || len(rs) != 2 || rs[0].GasUsed != 21000 {
				t.Fatalf("raw receipts %v, %v", rs, err)
			}
		}},
		{name: "bizra raw blocks past head", method: "bizra_getRawBlocks", params: []any{"0x9", "0x1"}, want: `[]`},
		{name: "bizra raw blocks zero count", method: "bizra_getRawBlocks", params: []any{"0x1", "0x0"}, code: CodeInvalidParams},
		{name: "bizra raw blocks too many", method: "bizra_getRawBlocks", params: []any{"0x1", "0x1000"}, code: CodeInvalidParams},
		{name: "bizra consensus without an engine", method: "bizra_consensus", code: CodeServer, msg: "no consensus engine"},
		{name: "send duplicate", method: "eth_sendRawTransaction", params: []any{hexutil.Encode(pending)}, code: CodeServer, msg: "already known"},
		{name: "send nonce too low", method: "eth_sendRawTransaction", params: []any{hexutil.Encode(e.sign(0, 0, types.DynamicFeeTxType, 99))}, code: CodeServer, msg: "nonce too low"},
		{name: "send replacement underpriced", method: "eth_sendRawTransaction", params: []any{hexutil.Encode(e.sign(2, 0, types.DynamicFeeTxType, 6))}, code: CodeServer, msg: "replacement transaction underpriced"},
		{name: "send garbage", method: "eth_sendRawTransaction", params: []any{"0x02c0"}, code: CodeServer, msg: "rlp"},
		{name: "send not hex", method: "eth_sendRawTransaction", params: []any{"hello"}, code: CodeInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, rerr := e.call(tc.method, tc.params...)
			if tc.code != 0 {
				if rerr == nil || rerr.Code != tc.code || !strings.Contains(rerr.Message, tc.msg) {
					t.Fatalf("got result %s error %+v, want code %d containing %q", res, rerr, tc.code, tc.msg)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("error %+v", rerr)
			}
			if tc.want != "" && string(res) != tc.want {
				t.Fatalf("got %s, want %s", res, tc.want)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
	// Every registered method has a case.
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.method] = true
	}
	for name := range e.srv.methods {
		switch name {
		case "eth_unsubscribe", "eth_getUncleCountByBlockNumber", "eth_getUncleCountByBlockHash", "eth_mining", "eth_hashrate":
			continue // covered by the WebSocket test or trivial constants
		}
		if !tested[name] {
			t.Errorf("method %s has no test case", name)
		}
	}
}

func TestSendRawTransaction(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	raw := e.sign(1, 1, types.DynamicFeeTxType, 77)
	res, rerr := e.call("eth_sendRawTransaction", hexutil.Encode(raw))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if want := fmt.Sprintf("%q", strings.ToLower(chain.Keccak256(raw).Hex())); string(res) != want {
		t.Fatalf("hash %s, want %s", res, want)
	}
	if e.pool.Len() != 1 {
		t.Fatalf("pool holds %d", e.pool.Len())
	}
}

func TestGoldenShapes(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	for _, tc := range []struct {
		file   string
		method string
		params []any
	}{
		{"block_hashes.json", "eth_getBlockByNumber", []any{"0x1", false}},
		{"block_full.json", "eth_getBlockByNumber", []any{"0x1", true}},
		{"tx_legacy.json", "eth_getTransactionByHash", []any{e.txs[0].Hash}},
		{"tx_dynamic_fee.json", "eth_getTransactionByHash", []any{e.txs[1].Hash}},
		{"tx_access_list.json", "eth_getTransactionByHash", []any{e.txs[2].Hash}},
		{"receipt.json", "eth_getTransactionReceipt", []any{e.txs[1].Hash}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, rerr := e.call(tc.method, tc.params...)
			if rerr != nil {
				t.Fatal(rerr)
			}
			golden(t, tc.file, res)
		})
	}
}

func contains(s string) func(*testing.T, json.RawMessage) {
	return func(t *testing.T, r json.RawMessage) {
		t.Helper()
		if !strings.Contains(string(r), s) {
			t.Fatalf("%s does not contain %s", r, s)
		}
	}
}

func field(name, want string) func(*testing.T, json.RawMessage) {
	return func(t *testing.T, r json.RawMessage) {
		t.Helper()
		var m map[string]json.RawMessage
		mustDecode(t, r, &m)
		if got := string(m[name]); got != want {
			t.Fatalf("%s = %s, want %s (in %s)", name, got, want, r)
		}
	}
}

func nonEmpty(t *testing.T, r json.RawMessage) {
	t.Helper()
	if len(r) == 0 || string(r) == "null" {
		t.Fatal("empty result")
	}
}

func mustDecode(t *testing.T, r json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(r, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }
