package rpc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/mempool"
)

// shutDoor refuses everything, as a full pool's door does.
type shutDoor struct{}

func (shutDoor) Admit(string) (bool, string, time.Duration) {
	return false, mempool.RefusedCapacity, 500 * time.Millisecond
}

// BenchmarkSendRawTransaction compares what one eth_sendRawTransaction
// request costs the server when it is admitted (decode, sender recovery,
// pool admission, answer) and when the door refuses it: the refusal is
// what a node pays for load beyond its capacity. The request is a plain
// JSON-RPC object, as wallets send.
func BenchmarkSendRawTransaction(b *testing.B) {
	for _, door := range []bool{false, true} {
		name := "admitted"
		if door {
			name = "refused"
		}
		b.Run(name, func(b *testing.B) {
			eo := envOptions{funded: b.N}
			if door {
				eo.funded = 1
				eo.door = func(*mempool.Pool) Admission { return shutDoor{} }
			}
			e := newEnvWith(b, DefaultConfig(), eo)
			bodies := make([][]byte, b.N)
			for i := range bodies {
				raw := e.sign(3+i%eo.funded, 0, types.DynamicFeeTxType, 1)
				bodies[i] = fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["%s"]}`, i, hexutil.Encode(raw))
			}
			cl := e.srv.clientOf("127.0.0.1:40000")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if out := e.srv.handle(ctx, cl, nil, bodies[i]); len(out) == 0 {
					b.Fatal("no answer")
				}
			}
		})
	}
}
