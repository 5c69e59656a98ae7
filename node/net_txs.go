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
// at most txBatchMax transactions and txBatchBytes of them, or what
// txBatchDelay gathered. A batch from a peer is held to the same bounds.
const (
	txBatchMax   = 512
	txBatchBytes = 1 << 20
	txBatchDelay = 20 * time.Millisecond
)

// maxTxBatchPayload is the largest batch this node publishes, framing
// included: next never takes more than txBatchBytes of transactions.
const maxTxBatchPayload = codec.PrefixSize + txBatchMax*codec.PrefixSize + txBatchBytes

// txGossip carries transactions: batches of what this node's clients sent,
// published on one topic, and admitted into the pool by the topic's
// validator as they arrive from peers (see validate: GossipSub relays a
// batch only if everything in it was admitted here or already held; the
// admitted part of a batch that also carried refused transactions is
// queued and published again by this node).
type txGossip struct {
	pool  *mempool.Pool
	log   *slog.Logger
	now   func() time.Time
	stale staleBudget

	mu      sync.Mutex
	pending [][]byte
	bytes   int
	kick    chan struct{}
}

func newTxGossip(pool *mempool.Pool, log *slog.Logger) *txGossip {
	return &txGossip{pool: pool, log: log, now: time.Now, kick: make(chan struct{}, 1)}
}

// start joins the transaction topic and publishes queued batches until
// the run stops.
func (g *txGossip) start(run *netRun) error {
	if g.pool == nil {
		return nil
	}
	t, err := run.host.Join(topicTxs, g.validate)
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

// next takes the next batch off the queue, nil when it is empty: at most
// txBatchMax transactions, and no more than txBatchBytes of them unless the
// first alone is larger (a transaction is at most chain.MaxMaxTxBytes).
func (g *txGossip) next() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, size := 0, 0
	for k < len(g.pending) && k < txBatchMax && (k == 0 || size+len(g.pending[k]) <= txBatchBytes) {
		size += len(g.pending[k])
		k++
	}
	if k == 0 {
		return nil
	}
	batch := g.pending[:k:k]
	g.pending = g.pending[k:]
	g.bytes -= size
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

// validate admits a gossiped batch into the pool while validating it, and
// tells GossipSub what to do with it. What an honest peer can send decides
// the verdict: an honest node publishes only transactions its pool
// admitted, at most txBatchMax (and txBatchBytes) at a time, and relays
// only batches that this validator accepted.
//
// Reject (the peer that sent it is penalised in the gossip score): the
// batch is larger than an honest node sends, does not decode, or holds a
// transaction that is invalid in itself (mempool.Invalid: it breaks a
// stateless rule of the chain, or its signature recovers no sender). Every
// transaction is parsed before any signature is recovered, and nothing of
// a rejected batch enters the pool.
//
// Accept (delivered and relayed): every transaction was admitted, or was
// already in the pool (the same transaction may reach a node in two
// batches when a client sent it to two nodes), and at least one was
// admitted.
//
// Ignore (dropped, not relayed, no penalty): everything else. A
// transaction refused for the state or the pool it met here (a nonce just
// used, a balance just spent, or a sender not yet funded in this node's
// view; a full pool, an underpriced replacement, the sender's limits) may
// have been valid where it came from a moment ago: nodes see blocks and
// transactions at different times, and such races cost the sender
// nothing. But a refused transaction is not relayed either: the admitted
// ones of the batch are queued for this node's own batches, so that they
// travel on without it. A batch that added nothing is simply dropped.
//
// Refusals for the state still cost a signature recovery each, and a
// corrupted signature usually recovers some unfunded address rather than
// failing; so each peer that delivers batches (from: the forwarding peer, not
// the batch's author, whose key costs nothing to change) has a budget of
// them (staleBudget): once a peer's batches have cost more such recoveries
// than its admitted transactions and the budget's slow refill pay for, its
// batches are ignored unread, without penalty, until the budget refills.
// An honest peer relays only batches it admitted whole, so it never
// reaches it.
func (g *txGossip) validate(from string, data []byte) p2p.Verdict {
	if len(data) > maxTxBatchPayload {
		g.log.Debug("oversized transaction batch", "from", from, "bytes", len(data))
		return p2p.Reject
	}
	raws, err := decodeTxBatch(data)
	if err != nil {
		g.log.Debug("malformed transaction batch", "from", from, "err", err)
		return p2p.Reject
	}
	now := g.now()
	if !g.stale.allow(from, now) {
		return p2p.Ignore
	}
	txs := make([]*chain.Tx, 0, len(raws))
	for _, raw := range raws {
		tx, err := g.pool.Parse(raw)
		if err != nil {
			g.log.Debug("invalid transaction in batch", "from", from, "txs", len(raws), "err", err)
			return p2p.Reject
		}
		txs = append(txs, tx)
	}
	// Recover only what the pool does not hold; a transaction repeated
	// within the batch counts as held.
	known := 0
	fresh := txs[:0]
	seen := make(map[chain.Hash]struct{}, len(txs))
	for _, tx := range txs {
		if _, dup := seen[tx.Hash]; dup {
			known++
			continue
		}
		seen[tx.Hash] = struct{}{}
		if _, ok := g.pool.Get(tx.Hash); ok {
			known++
			continue
		}
		if err := g.pool.Recover(tx); err != nil {
			g.log.Debug("invalid transaction in batch", "from", from, "txs", len(raws), "err", err)
			return p2p.Reject
		}
		fresh = append(fresh, tx)
	}
	var admitted []*chain.Tx
	stale := 0
	var firstStale error
	for i, err := range g.pool.AddTxs(fresh) {
		switch {
		case err == nil:
			admitted = append(admitted, fresh[i])
		case errors.Is(err, mempool.ErrAlreadyKnown):
			known++
		default: // parsed and recovered above, so a refusal for the moment
			stale++
			if firstStale == nil {
				firstStale = err
			}
		}
	}
	g.stale.settle(from, stale, len(admitted), now)
	switch {
	case len(admitted) == 0:
		if stale > 0 {
			g.log.Debug("gossiped transactions added nothing", "from", from, "txs", len(raws), "known", known, "refused", stale, "err", firstStale)
		}
		return p2p.Ignore
	case stale > 0:
		g.log.Debug("gossiped batch partly refused: publishing the admitted ones", "from", from, "txs", len(raws), "admitted", len(admitted), "refused", stale, "err", firstStale)
		for _, tx := range admitted {
			g.queue(tx.Raw)
		}
		return p2p.Ignore
	}
	return p2p.Accept
}

// staleBudget bounds, per peer that delivers transaction batches, the
// signature recoveries spent on transactions the pool then refused for the
// state or its limits. A peer starts with staleBurst tokens; each such
// refusal costs one, each transaction of its admitted gains one, and time
// gains staleRate a second, up to staleBurst. While a peer has none, its
// batches are ignored before anything in them is parsed.
//
// The peer is the one the batch came from (the gossip propagation
// source), not the batch's author: an author key costs nothing to change,
// a peer identity costs a new connection and its handshakes. Only peers
// below the full budget are kept, at most stalePeers of them; past that
// one is forgotten to make room.
type staleBudget struct {
	mu    sync.Mutex
	peers map[string]*staleTokens
}

type staleTokens struct {
	tokens float64
	at     time.Time
}

const (
	staleBurst = 256
	staleRate  = 64 // tokens a second
	stalePeers = 4096
)

// refill adds what the time since the last update earned.
func (t *staleTokens) refill(now time.Time) {
	if dt := now.Sub(t.at).Seconds(); dt > 0 {
		t.tokens = min(staleBurst, t.tokens+dt*staleRate)
	}
	t.at = now
}

// allow reports whether the peer's batches are read.
func (b *staleBudget) allow(peer string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.peers[peer]
	if t == nil {
		return true
	}
	t.refill(now)
	return t.tokens > 0
}

// settle charges the peer for a batch's stale refusals and credits it for
// its admitted transactions.
func (b *staleBudget) settle(peer string, stale, admitted int, now time.Time) {
	if stale == 0 && admitted == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.peers[peer]
	if t == nil {
		if stale <= admitted {
			return // a full budget stays full
		}
		if b.peers == nil {
			b.peers = make(map[string]*staleTokens)
		}
		if len(b.peers) >= stalePeers {
			for a := range b.peers {
				delete(b.peers, a)
				break
			}
		}
		t = &staleTokens{tokens: staleBurst, at: now}
		b.peers[peer] = t
	}
	t.refill(now)
	t.tokens = min(staleBurst, t.tokens+float64(admitted-stale))
	if t.tokens >= staleBurst {
		delete(b.peers, peer)
	}
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
// and its bytes (internal/codec), at most txBatchMax of them. Decoding
// copies each transaction out of the message, so that a pooled transaction
// does not keep the whole batch in memory.
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
	n := d.Count("transactions", txBatchMax, codec.PrefixSize+1)
	if d.Err() == nil && n == 0 {
		d.Failf("transactions", "none")
	}
	out := make([][]byte, n)
	for i := range out {
		if out[i] = d.BlobCopy("transaction", chain.MaxMaxTxBytes); d.Err() == nil && len(out[i]) == 0 {
			d.Failf("transaction", "empty")
		}
	}
	if err := d.Finish("transaction batch"); err != nil {
		return nil, err
	}
	return out, nil
}
