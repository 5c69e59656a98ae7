package node

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/internal/codec"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
)

// Transaction gossip batches what this node admitted from its clients:
// at most txBatchMax transactions or txBatchBytes, or what txBatchDelay
// gathered.
const (
	txBatchMax   = 512
	txBatchBytes = 1 << 20
	txBatchDelay = 20 * time.Millisecond
)

// txGossip carries transactions: batches of what this node's clients sent,
// published on one topic, and admitted into the pool by the topic's
// validator as they arrive from peers (GossipSub relays them: only what
// this node admitted from its own clients is queued).
type txGossip struct {
	pool *mempool.Pool
	log  *slog.Logger

	mu      sync.Mutex
	pending [][]byte
	bytes   int
	kick    chan struct{}
}

func newTxGossip(pool *mempool.Pool, log *slog.Logger) *txGossip {
	return &txGossip{pool: pool, log: log, kick: make(chan struct{}, 1)}
}

// start joins the transaction topic and publishes queued batches until
// the run stops.
func (g *txGossip) start(run *netRun) error {
	if g.pool == nil {
		return nil
	}
	self := run.host.ID()
	t, err := run.host.Join(topicTxs, func(from string, data []byte) p2p.Verdict {
		if from == self {
			return p2p.Accept // our own batch come back, admitted before it was queued
		}
		return g.validate(from, data)
	})
	if err != nil {
		return fmt.Errorf("node: join %s: %w", topicTxs, err)
	}
	run.wg.Add(2)
	go g.drain(run, t)
	go g.publish(run, t)
	return nil
}

// queue queues a transaction for gossip.
func (g *txGossip) queue(raw []byte) {
	g.mu.Lock()
	g.pending = append(g.pending, raw)
	g.bytes += len(raw)
	full := len(g.pending) >= txBatchMax || g.bytes >= txBatchBytes
	g.mu.Unlock()
	if full {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
}

// next takes the next batch off the queue, nil when it is empty.
func (g *txGossip) next() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := min(len(g.pending), txBatchMax)
	if k == 0 {
		return nil
	}
	batch := g.pending[:k:k]
	g.pending = g.pending[k:]
	for _, r := range batch {
		g.bytes -= len(r)
	}
	return batch
}

// publish publishes queued transactions in batches.
func (g *txGossip) publish(run *netRun, t *p2p.Topic) {
	defer run.wg.Done()
	tick := time.NewTicker(txBatchDelay)
	defer tick.Stop()
	for {
		select {
		case <-run.ctx.Done():
			return
		case <-tick.C:
		case <-g.kick:
		}
		for batch := g.next(); batch != nil; batch = g.next() {
			if err := t.Publish(encodeTxBatch(batch)); err != nil && run.ctx.Err() == nil {
				g.log.Debug("publish transactions failed", "txs", len(batch), "err", err)
			}
		}
	}
}

// validate admits a gossiped batch into the pool while validating it:
// a batch that does not decode is rejected (its sender is penalised); one
// that adds nothing new is ignored (not relayed); otherwise it is relayed.
// Transactions invalid here may have been valid at the sender a moment
// ago (a nonce just used), so they cost the sender nothing.
func (g *txGossip) validate(from string, data []byte) p2p.Verdict {
	raws, err := decodeTxBatch(data)
	if err != nil {
		return p2p.Reject
	}
	added := 0
	var firstErr error
	for _, raw := range raws {
		if _, err := g.pool.Add(raw); err == nil {
			added++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if added == 0 {
		g.log.Debug("gossiped transactions added nothing", "from", from, "txs", len(raws), "err", firstErr)
		return p2p.Ignore
	}
	return p2p.Accept
}

// drain empties the topic's delivery channel: the validator has done the
// work.
func (g *txGossip) drain(run *netRun, t *p2p.Topic) {
	defer run.wg.Done()
	for {
		select {
		case <-run.ctx.Done():
			return
		case _, ok := <-t.Messages():
			if !ok {
				return
			}
		}
	}
}

// The transaction batch: count u32, then each transaction as a u32 length
// and its bytes (internal/codec), at most maxTxBatch of them.
const maxTxBatch = 4096

var errTxBatch = errors.New("node: malformed transaction batch")

func encodeTxBatch(raws [][]byte) []byte {
	size := codec.PrefixSize
	for _, r := range raws {
		size += codec.PrefixSize + len(r)
	}
	e := codec.NewEncoder(make([]byte, 0, size))
	e.U32(uint32(len(raws)))
	for _, r := range raws {
		e.Blob(r)
	}
	return e.Bytes()
}

func decodeTxBatch(b []byte) ([][]byte, error) {
	d := codec.NewDecoder(b, errTxBatch)
	n := d.Count("transactions", maxTxBatch, codec.PrefixSize+1)
	if d.Err() == nil && n == 0 {
		d.Failf("transactions", "none")
	}
	out := make([][]byte, n)
	for i := range out {
		if out[i] = d.BlobAlias("transaction", chain.MaxMaxTxBytes); d.Err() == nil && len(out[i]) == 0 {
			d.Failf("transaction", "empty")
		}
	}
	if err := d.Finish("transaction batch"); err != nil {
		return nil, err
	}
	return out, nil
}
