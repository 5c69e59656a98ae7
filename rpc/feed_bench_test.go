package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bizra/node0/chain"
)

// BenchmarkAdmitWithSubscribers admits gossip-sized batches of 200
// transfers (senders recovered, as the gossip validator hands them over)
// into a pool whose admissions feed the server, with no subscribers and
// with 1,000 newPendingTransactions subscriptions: 1,000 connections of
// one, and 10 connections of 100. ns/op is the admission of one batch;
// deliver-ns/op the time until every open subscription has had every hash
// of it; closed the connections the server dropped as too slow.
//
//	go test ./rpc -run '^$' -bench AdmitWithSubscribers -benchtime 100x -count 5
func BenchmarkAdmitWithSubscribers(b *testing.B) {
	for _, shape := range []struct{ conns, subs int }{{0, 0}, {1000, 1}, {10, 100}} {
		b.Run(fmt.Sprintf("subs=%dx%d", shape.conns, shape.subs), func(b *testing.B) {
			benchAdmit(b, shape.conns, shape.subs)
		})
	}
}

func benchAdmit(b *testing.B, conns, subsPer int) {
	const batch = 200
	cfg := DefaultConfig()
	cfg.MaxWSConns = conns + 10
	e := newEnvWith(b, cfg, envOptions{fedPool: true, funded: batch})
	batches := make([][]*chain.Tx, b.N)
	for i := range batches {
		raws := make([][]byte, batch)
		for j := range raws {
			raws[j] = e.signN(3+j, uint64(i), 1)[0]
		}
		batches[i] = e.decodeAll(raws)
	}
	url := "ws" + strings.TrimPrefix(e.http.URL, "http")
	counts := make([]atomic.Int64, conns)
	closed := make([]atomic.Bool, conns)
	why := make([]atomic.Value, conns)
	for c := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ws.Close() })
		for k := range subsPer {
			if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": k, "method": "eth_subscribe", "params": []any{"newPendingTransactions"}}); err != nil {
				b.Fatal(err)
			}
			if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"result"`) {
				b.Fatalf("subscribe: %s %v", msg, err)
			}
		}
		go func() {
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					why[c].Store(err.Error())
					closed[c].Store(true)
					return
				}
				var n struct {
					Method string `json:"method"`
				}
				if json.Unmarshal(msg, &n) == nil && n.Method == "eth_subscription" {
					counts[c].Add(1)
				}
			}
		}()
	}
	var deliver time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		for k, err := range e.pool.AddTxs(batches[i]) {
			if err != nil {
				b.Fatalf("batch %d tx %d: %v", i, k, err)
			}
		}
		b.StopTimer()
		want := int64((i + 1) * batch * subsPer)
		deadline := start.Add(30 * time.Second)
		for c := 0; c < conns; c++ {
			for counts[c].Load() < want && !closed[c].Load() {
				if time.Now().After(deadline) {
					b.Fatalf("connection %d has %d of %d notifications", c, counts[c].Load(), want)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		deliver += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	n := 0
	for c := range closed {
		if closed[c].Load() {
			n++
			b.Logf("connection %d closed after %d notifications: %v", c, counts[c].Load(), why[c].Load())
		}
	}
	b.ReportMetric(float64(deliver.Nanoseconds())/float64(b.N), "deliver-ns/op")
	b.ReportMetric(float64(n), "closed")
}

// BenchmarkReceiptInBigBlock answers eth_getTransactionReceipt for the
// last transfer of a block of 1, 1,000 and 5,000: what a wallet polling
// its transfer's receipt costs the node.
//
//	go test ./rpc -run '^$' -bench ReceiptInBigBlock -benchtime 200x -count 5
func BenchmarkReceiptInBigBlock(b *testing.B) {
	for _, n := range []int{1, 1000, 5000} {
		b.Run(fmt.Sprintf("txs=%d", n), func(b *testing.B) {
			e := newEnvWith(b, DefaultConfig(), envOptions{funded: 5})
			var raws [][]byte
			for k := 0; k*1000 < n; k++ {
				raws = append(raws, e.signN(3+k, 0, min(1000, n-k*1000))...)
			}
			e.commit(1_780_000_003_000, raws...)
			body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":["` + strings.ToLower(e.txs[len(e.txs)-1].Hash.Hex()) + `"]}`)
			b.ResetTimer()
			for range b.N {
				if out := e.srv.handle(context.Background(), client{key: "bench", exempt: true}, nil, body); !strings.Contains(string(out), `"status":"0x1"`) {
					b.Fatalf("%s", out)
				}
			}
		})
	}
}
