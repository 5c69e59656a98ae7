package rpc

import (
	"testing"

	"github.com/bizra/node0/chain"
)

func TestBlockCacheBounds(t *testing.T) {
	block := func(txs int) *chain.Block { return &chain.Block{Txs: make([][]byte, txs)} }
	var c blockCache
	for h := range uint64(blockCacheBlocks + 10) {
		c.put(&cachedBlock{height: h, block: block(1)})
	}
	if c.order.Len() != blockCacheBlocks {
		t.Fatalf("%d blocks cached, bound %d", c.order.Len(), blockCacheBlocks)
	}
	if _, ok := c.get(0); ok {
		t.Fatal("the least recently used block is still cached")
	}
	if _, ok := c.get(blockCacheBlocks + 9); !ok {
		t.Fatal("the newest block is not cached")
	}
	for h := range uint64(8) {
		c.put(&cachedBlock{height: 1000 + h, block: block(blockCacheTxs / 4)})
	}
	if c.txs > blockCacheTxs {
		t.Fatalf("%d transactions cached, bound %d", c.txs, blockCacheTxs)
	}
	c.put(&cachedBlock{height: 5000, block: block(blockCacheTxs/2 + 1)})
	if _, ok := c.get(5000); ok {
		t.Fatal("a block of more than half the cache was cached")
	}
}
