package rpc

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/node0/chain"
)

// Subscription kinds.
const (
	subHeads   = "newHeads"
	subPending = "newPendingTransactions"
)

// Bounds of the feed's queues: events waiting for the feed's goroutine.
// Past them, events are dropped and counted (bizra_rpc_feed_dropped_total):
// the admission and commit paths never wait for subscribers.
const (
	feedPendingQueue = 1 << 16 // transaction hashes
	feedHeadQueue    = 64      // block headers
)

// feedLinger is how long a pass waits after the first event that woke it,
// so that the admissions of one gossip batch or one client batch go out
// as one batch per connection, not as many.
const feedLinger = 2 * time.Millisecond

// Feed carries the node's events to WebSocket subscribers: committed
// blocks (newHeads) and admitted transactions (newPendingTransactions). It
// stands apart from the Server so that what produces the events — the
// pool, the chain's commits — can be handed its methods when they are
// built, before the server that reads the pool; the server registers its
// connections' subscriptions with it (Options.Feed).
//
// NotifyTx and NotifyBlock only queue the event (nothing at all when
// nobody subscribes to its kind) and return: a goroutine of the feed's
// own, running while any connection subscribes, takes what has queued
// since its last pass (lingering feedLinger after the event that woke
// it) and hands it to each subscribed connection as one batch, which the
// connection's writer turns into its notifications. A
// burst of admissions costs the feed one pass and each connection one
// batch, however many hashes and subscriptions it holds.
type Feed struct {
	chain   Chain
	log     *slog.Logger
	metrics atomic.Pointer[Metrics]
	// active counts the active subscriptions by kind, read without a lock
	// on the admission path.
	active [2]atomic.Int64

	mu      sync.Mutex
	pending []chain.Hash // admitted since the last pass
	heads   []queuedHead // committed since the last pass
	conns   map[*wsConn]struct{}
	list    []*wsConn // conns, copied on change for the goroutine's passes
	running bool
	wake    chan struct{}
}

// queuedHead is what a newHeads notification is made of, without the
// block's transactions.
type queuedHead struct {
	header chain.Header
	cert   []byte
	size   int
}

// event is one batch of notifications of one kind for a connection: each
// result goes to each of the connection's subscriptions of the kind.
type event struct {
	kind    string
	results [][]byte // encoded, shared by every connection
}

// NewFeed makes a feed of a chain's events; log may be nil.
func NewFeed(c Chain, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{chain: c, log: log.With("module", "rpc"), conns: map[*wsConn]struct{}{}, wake: make(chan struct{}, 1)}
	f.metrics.Store(NopMetrics())
	return f
}

func (f *Feed) setMetrics(m *Metrics) { f.metrics.Store(m) }

func kindIndex(kind string) int {
	if kind == subHeads {
		return 0
	}
	return 1
}

// count returns the active subscriptions of a kind.
func (f *Feed) count(kind string) int { return int(f.active[kindIndex(kind)].Load()) }

// NotifyBlock tells newHeads subscribers about a committed block. It
// queues the header and returns.
func (f *Feed) NotifyBlock(b *chain.Block) {
	if f.count(subHeads) == 0 {
		return
	}
	f.mu.Lock()
	if len(f.heads) >= feedHeadQueue {
		f.mu.Unlock()
		f.metrics.Load().FeedDropped.WithLabelValues(subHeads).Inc()
		return
	}
	f.heads = append(f.heads, queuedHead{header: b.Header, cert: b.Cert, size: b.EncodedSize()})
	f.mu.Unlock()
	f.signal()
}

// NotifyTx tells newPendingTransactions subscribers about an admitted
// transaction. It queues the hash and returns.
func (f *Feed) NotifyTx(tx *chain.Tx) {
	if f.count(subPending) == 0 {
		return
	}
	f.mu.Lock()
	if len(f.pending) >= feedPendingQueue {
		f.mu.Unlock()
		f.metrics.Load().FeedDropped.WithLabelValues(subPending).Inc()
		return
	}
	f.pending = append(f.pending, tx.Hash)
	f.mu.Unlock()
	f.signal()
}

func (f *Feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// register adds a connection that has active subscriptions, starting the
// feed's goroutine if it does not run.
func (f *Feed) register(c *wsConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.conns[c]; ok {
		return
	}
	f.conns[c] = struct{}{}
	f.list = append(f.list[:len(f.list):len(f.list)], c)
	if !f.running {
		f.running = true
		go f.run()
	}
}

// unregister removes a connection that has no active subscriptions left.
func (f *Feed) unregister(c *wsConn) {
	f.mu.Lock()
	if _, ok := f.conns[c]; !ok {
		f.mu.Unlock()
		return
	}
	delete(f.conns, c)
	list := make([]*wsConn, 0, len(f.conns))
	for _, x := range f.list {
		if x != c {
			list = append(list, x)
		}
	}
	f.list = list
	f.mu.Unlock()
	f.signal() // the goroutine ends when nobody is left
}

// run delivers what has queued, pass after pass, until no connection
// subscribes.
func (f *Feed) run() {
	for range f.wake {
		time.Sleep(feedLinger)
		f.mu.Lock()
		pending, heads, conns := f.pending, f.heads, f.list
		f.pending, f.heads = nil, nil
		if len(conns) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if len(heads) > 0 {
			f.deliver(conns, subHeads, f.encodeHeads(heads))
		}
		if len(pending) > 0 {
			results := make([][]byte, len(pending))
			for i, h := range pending {
				results[i] = strconv.AppendQuote(make([]byte, 0, 68), h.Hex())
			}
			f.deliver(conns, subPending, results)
		}
	}
}

func (f *Feed) encodeHeads(heads []queuedHead) [][]byte {
	rules, limit := f.chain.Rules(), gasLimit(f.chain)
	out := make([][]byte, 0, len(heads))
	for _, h := range heads {
		blk := &chain.Block{Header: h.header, Cert: h.cert}
		payload, err := json.Marshal(newHeader(blk, h.size, rules, limit))
		if err != nil {
			f.log.Error("encoding a head", "err", err)
			continue
		}
		out = append(out, payload)
	}
	return out
}

func (f *Feed) deliver(conns []*wsConn, kind string, results [][]byte) {
	ev := &event{kind: kind, results: results}
	for _, c := range conns {
		c.notify(ev)
	}
}
