package rpc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
)

// movingHead reports a head one block further at every look, as a node's
// does while it commits under a reader.
type movingHead struct {
	chainAdapter
	looks uint64
}

func (c *movingHead) Head() (chain.Header, chain.Hash) {
	h, hash := c.chainAdapter.Head()
	c.looks++
	h.Height += c.looks
	return h, hash
}

// State asked of the head by a tag is always the head's, however far the
// head moved while the call was answered; asked by a number, it is the
// head's only if that number still is the head.
func TestStateAtTheHeadWhileItMoves(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	srv, err := NewServer(DefaultConfig(), &movingHead{chainAdapter: chainAdapter{e.chain}}, poolAdapter{e.pool}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := crypto.PubkeyToAddress(e.keys[0].PublicKey)
	call := func(block string) (json.RawMessage, *Error) {
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []any{addr, block}})
		var resp struct {
			Result json.RawMessage `json:"result"`
			Error  *Error          `json:"error"`
		}
		if err := json.Unmarshal(srv.handle(context.Background(), client{key: "test"}, nil, req), &resp); err != nil {
			t.Fatal(err)
		}
		return resp.Result, resp.Error
	}
	for _, tag := range []string{"latest", "pending", "safe", "finalized"} {
		if _, e := call(tag); e != nil {
			t.Fatalf("%s: %v", tag, e)
		}
	}
	if _, e := call("0x2"); e == nil || !strings.Contains(e.Message, "not available") {
		t.Fatalf("a block number that is no longer the head: %v", e)
	}
}
