package node

import (
	"math/big"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/p2p"
)

// Block sync serving: the blocks a server reads for one request of a
// node's batch (32 blocks of 2,000 transfers, about 230 kB each), as
// stored (what serve does) against decoded and encoded again (what it did
// before).
const (
	benchSyncBlocks = 32
	benchSyncTxs    = 2000
)

var benchSync struct {
	once sync.Once
	c    *chain.Chain
	err  error
}

// benchSyncChain commits benchSyncBlocks blocks of benchSyncTxs transfers
// each, once per process.
func benchSyncChain(b *testing.B) *chain.Chain {
	benchSync.once.Do(func() {
		dir := filepath.Join(b.TempDir(), "home")
		res, err := Init(InitOptions{Home: dir, DevAccounts: benchSyncTxs})
		if err != nil {
			benchSync.err = err
			return
		}
		store, err := chain.OpenStore(filepath.Join(dir, "bench-db"), chain.DefaultStoreOptions())
		if err != nil {
			benchSync.err = err
			return
		}
		c, err := chain.New(store, res.Genesis, chain.DefaultConfig(), nil, nil)
		if err != nil {
			benchSync.err = err
			return
		}
		r := c.Rules()
		devs := res.DevAccounts
		for n := range uint64(benchSyncBlocks) {
			bl := c.NewBuilder(chain.BuildParams{Proposer: devs[0].Address})
			for i, from := range devs {
				to := devs[(i+1)%len(devs)].Address
				tx := types.NewTx(&types.DynamicFeeTx{
					ChainID: new(big.Int).SetUint64(r.ChainID), Nonce: n, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(3e9),
					Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
				})
				signed, err := types.SignTx(tx, r.Signer(), from.Key)
				if err != nil {
					benchSync.err = err
					return
				}
				raw, _ := signed.MarshalBinary()
				dtx, err := r.DecodeTx(raw)
				if err != nil {
					benchSync.err = err
					return
				}
				if err := bl.Add(dtx); err != nil {
					benchSync.err = err
					return
				}
			}
			if err := c.Commit(bl.Finish()); err != nil {
				benchSync.err = err
				return
			}
		}
		benchSync.c = c
	})
	if benchSync.err != nil {
		b.Fatal(benchSync.err)
	}
	return benchSync.c
}

func BenchmarkServeBlocks(b *testing.B) {
	c := benchSyncChain(b)
	s := newBlockSync(c, chain.Hash{}, nil, nil, nil)
	size := 0
	for h := uint64(1); h <= benchSyncBlocks; h++ {
		raw, err := c.Store().RawBlock(h)
		if err != nil {
			b.Fatal(err)
		}
		size += len(raw)
	}
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			blocks, err := s.serve(1, benchSyncBlocks, p2p.MaxSyncResponseBytes)
			if err != nil || len(blocks) != benchSyncBlocks {
				b.Fatalf("%d blocks, %v", len(blocks), err)
			}
		}
	})
	b.Run("reencode", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			var out [][]byte
			for h := uint64(1); h <= benchSyncBlocks; h++ {
				blk, err := c.Store().Block(h)
				if err != nil {
					b.Fatal(err)
				}
				out = append(out, blk.Encode())
			}
			if len(out) != benchSyncBlocks {
				b.Fatal(len(out))
			}
		}
	})
}
