package main

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
)

// rpcCall makes one JSON-RPC call and decodes its result into out; it
// returns the error object's message, if any.
func rpcCall(t *testing.T, url, method string, out any, params ...any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Error != nil {
		return r.Error.Message
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			t.Fatal(err)
		}
	}
	return ""
}

// TestJournalSurvivesSIGKILL sends a transfer to a devnet node right after
// it committed a block, so that the next block is seconds away, and kills
// the node with SIGKILL as soon as eth_sendRawTransaction returned the
// hash: between the answer and the commit. Without the journal the
// restarted node has never heard of the transaction; with it, the
// transaction is replayed and committed.
func TestJournalSurvivesSIGKILL(t *testing.T) {
	for _, c := range []struct {
		name      string
		journal   bool
		committed bool
	}{
		{"journal off", false, false},
		{"journal on", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "devnet")
			dc := node.DefaultConfig()
			dc.P2P.Enabled = false
			dc.Mempool.Journal = c.journal
			const blockTime = 2 * time.Second
			if _, err := node.Init(node.InitOptions{Home: home, Moniker: "devnet", ChainID: node.DefaultChainID, BlockTime: blockTime, DevAccounts: 2, Config: &dc}); err != nil {
				t.Fatal(err)
			}
			args := []string{"devnet", "--home", home, "--metrics.off", "--rpc.addr", "127.0.0.1:0", "--log.format", "json"}
			p := startBizra(t, args...)
			url := p.stdout.find(t, rpcRe, 30*time.Second)
			// Just after a commit: the next block is a block time away.
			deadline := time.Now().Add(30 * time.Second)
			first := p.committed.Load()
			for p.committed.Load() <= first {
				if time.Now().After(deadline) {
					t.Fatal("no block committed")
				}
				time.Sleep(time.Millisecond)
			}
			height := p.committed.Load()
			dev := node.DevAccounts(2)
			to := dev[1].Address
			tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
				ChainID: new(big.Int).SetUint64(node.DefaultChainID), Nonce: 0, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
				Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
			}), types.NewLondonSigner(new(big.Int).SetUint64(node.DefaultChainID)), dev[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tx.MarshalBinary()
			var hash string
			if msg := rpcCall(t, url, "eth_sendRawTransaction", &hash, hexutil.Bytes(raw)); msg != "" {
				t.Fatalf("eth_sendRawTransaction: %s", msg)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.wait(10 * time.Second)
			if got := p.committed.Load(); got != height {
				t.Fatalf("the node committed block %d before the kill; the test needs the kill before the next block", got)
			}
			t.Logf("killed right after eth_sendRawTransaction returned %s, at height %d", hash, height)

			p = startBizra(t, args...)
			url = p.stdout.find(t, rpcRe, 30*time.Second)
			deadline = time.Now().Add(30 * time.Second)
			for p.committed.Load() < height+2 {
				if time.Now().After(deadline) {
					t.Fatalf("restarted node at %d, waiting for %d", p.committed.Load(), height+2)
				}
				time.Sleep(10 * time.Millisecond)
			}
			var receipt map[string]any
			if msg := rpcCall(t, url, "eth_getTransactionReceipt", &receipt, hash); msg != "" {
				t.Fatal(msg)
			}
			if (receipt != nil) != c.committed {
				t.Fatalf("after restart and two blocks, receipt %v; want committed %v", receipt, c.committed)
			}
			if receipt != nil {
				t.Logf("committed after restart in block %v", receipt["blockNumber"])
			} else {
				var got map[string]any
				rpcCall(t, url, "eth_getTransactionByHash", &got, hash)
				if got != nil {
					t.Fatalf("transaction still known: %v", got)
				}
				t.Log("lost: the restarted node knows nothing of it")
			}
			replayed := regexp.MustCompile(`"msg":"mempool journal replayed".*"replayed":(\d+)`)
			if c.journal {
				if n := p.stderr.find(t, replayed, time.Second); n != "1" {
					t.Fatalf("journal replayed %s transactions, want 1", n)
				}
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM", code)
			}
		})
	}
}
