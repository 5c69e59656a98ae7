package explorer

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/big"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// syntheticChain makes n blocks of txs transfers each among accounts
// addresses, chained by parent hash, proposed and signed by one validator.
func syntheticChain(n, txs, accounts int) ([]*Block, rpc.Validator) {
	val := rpc.Validator{Name: "v0", Address: chain.Address{0xaa}, Stake: 1}
	addr := func(i int) chain.Address {
		var a chain.Address
		binary.BigEndian.PutUint64(a[12:], uint64(i%accounts)+1)
		return a
	}
	var parent chain.Hash
	var seq uint64
	out := make([]*Block, n)
	for h := range out {
		b := &Block{Height: uint64(h), Parent: parent, Proposer: val.Address, TimestampMs: uint64(h) * 1000, GasUsed: uint64(txs) * 21000,
			Signers: []string{"v0"}, SignedStake: 1, TotalStake: 1, Txs: make([]Tx, txs)}
		binary.BigEndian.PutUint64(b.Hash[:], uint64(h)+1)
		b.Hash[31] = 0xbb
		for i := range b.Txs {
			seq++
			t := &b.Txs[i]
			t.Hash = chain.Keccak256(binary.BigEndian.AppendUint64(nil, seq))
			t.From, t.To = addr(int(seq)), addr(int(seq)*7+3)
			t.Value, t.GasPrice, t.Fee = big.NewInt(int64(seq)*1e12), big.NewInt(1e9), big.NewInt(21000*1e9)
			t.Nonce, t.Status = seq/uint64(accounts), 1
		}
		parent = b.Hash
		out[h] = b
	}
	return out, val
}

// BenchmarkWrite measures the writer alone: batches of 10 blocks of 5,000
// transfers (50,000 rows) written with COPY in one transaction each, into a
// database that grows through the run. Reports transactions per second.
func BenchmarkWrite(b *testing.B) {
	pg, _ := testDB(b)
	cfg := testConfig("http://127.0.0.1:1", pg, "", "")
	ctx := context.Background()
	db, err := OpenDB(ctx, cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := Migrate(ctx, db.Primary()); err != nil {
		b.Fatal(err)
	}
	const perBlock, perBatch = 5000, 10
	blocks, val := syntheticChain(b.N*perBatch+1, perBlock, 100_000)
	blocks[0].Txs = nil
	ix := newIndexer(cfg, db, NewCache(nil, cfg, NewMetrics(nil), slog.New(slog.DiscardHandler)), NewMetrics(nil), slog.New(slog.DiscardHandler))
	ix.vals, ix.valsAt = map[string]rpc.Validator{idOf(val.Address): val}, time.Now().Add(time.Hour)
	if _, err := db.Primary().Exec(ctx, `INSERT INTO indexer_state (chain_id, genesis_hash) VALUES (1, '\x00')`); err != nil {
		b.Fatal(err)
	}
	if err := ix.write(ctx, blocks[:1]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := ix.write(ctx, blocks[1+i*perBatch:1+(i+1)*perBatch]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch*perBlock)/time.Since(start).Seconds(), "tx/s")
}

// BenchmarkCacheGet measures the memory tier's cost per Get without Redis:
// a hit, and a miss (every key new) whose load returns at once, which pays
// for coalescing (a goroutine and a channel per load). Run in parallel.
func BenchmarkCacheGet(b *testing.B) {
	load := func(context.Context) ([]byte, error) { return []byte("v"), nil }
	b.Run("hit", func(b *testing.B) {
		c := NewCache(nil, DefaultConfig(), NewMetrics(nil), slog.New(slog.DiscardHandler))
		c.Get(context.Background(), "k", "", time.Minute, load)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Get(context.Background(), "k", "", time.Minute, load)
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		cfg := DefaultConfig()
		cfg.LocalEntries = 1 << 20
		c := NewCache(nil, cfg, NewMetrics(nil), slog.New(slog.DiscardHandler))
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Get(context.Background(), strconv.FormatInt(n.Add(1), 10), "", time.Minute, load)
			}
		})
	})
}
