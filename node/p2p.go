package node

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
)

// Gossip topics (p2p scopes them by chain id and protocol version).
const (
	topicProposals    = "proposals"
	topicVotes        = "votes"
	topicAggregates   = "aggregates"
	topicTimeouts     = "timeouts"
	topicCertificates = "certificates"
	topicTxs          = "transactions"
)

// topicOf is the topic a consensus message travels on.
func topicOf(k consensus.Kind) string {
	switch k {
	case consensus.KindProposal:
		return topicProposals
	case consensus.KindVote:
		return topicVotes
	case consensus.KindAggregate:
		return topicAggregates
	case consensus.KindTimeout, consensus.KindTC:
		return topicTimeouts
	case consensus.KindQC:
		return topicCertificates
	}
	return ""
}

// Transaction gossip batches what this node admitted from its clients:
// at most txBatchMax transactions or txBatchBytes, or what txBatchDelay
// gathered.
const (
	txBatchMax   = 512
	txBatchBytes = 1 << 20
	txBatchDelay = 20 * time.Millisecond
)

// network is the node's peer-to-peer side: the libp2p host, the consensus
// transport over its gossip topics, transaction gossip, and block sync. It
// is the node's adapter between p2p (bytes, peers) and the consensus,
// chain and mempool rules, which it supplies to p2p as topic validators.
type network struct {
	host   *p2p.Host
	log    *slog.Logger
	self   uint32
	region int // -1: none
	vals   *consensus.ValidatorSet
	crypto consensus.Crypto
	tag    consensus.Hash
	pool   *mempool.Pool
	head   func() uint64

	topicsMu sync.RWMutex
	topics   map[string]*p2p.Topic
	// committees reports the current epoch's committees (nil until the
	// engine runs); with more than one, this node also joins its own
	// committee's vote subnet, and votes to an aggregator travel there.
	committees atomic.Pointer[func() *consensus.Committees]
	subnet     int // committee whose vote subnet is joined, -1 for none (topicsMu)
	msgs       chan *consensus.Message
	blocks     chan *chain.Block

	txMu      sync.Mutex
	txPending [][]byte
	txBytes   int
	txKick    chan struct{}

	fetching atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

type networkParams struct {
	cfg     P2PConfig
	key     ed25519.PrivateKey
	genesis *chain.Genesis
	self    uint32
	vals    *consensus.ValidatorSet
	crypto  consensus.Crypto
	chain   *chain.Chain
	pool    *mempool.Pool
	log     *slog.Logger
	reg     prometheus.Registerer
}

// newNetwork starts the host and joins the topics.
func newNetwork(p networkParams) (*network, error) {
	ctx, cancel := context.WithCancel(context.Background())
	n := &network{
		log: p.log.With("module", "net"), self: p.self, region: -1, vals: p.vals, crypto: p.crypto,
		tag: p.genesis.Hash(), pool: p.pool, topics: map[string]*p2p.Topic{}, subnet: -1,
		msgs: make(chan *consensus.Message, memInbox), blocks: make(chan *chain.Block, 128),
		txKick: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
	}
	if r, ok := regionIndex(p.cfg.Region); ok {
		n.region = r
	}
	n.head = func() uint64 { h, _ := p.chain.Head(); return h.Height }
	store := p.chain.Store()
	cfg := p.cfg.Config
	cfg.ChainID = p.genesis.ChainID
	cfg.Genesis = p.genesis.Hash()
	host, err := p2p.New(p.key, cfg, p2p.Options{
		Logger: p.log, Registry: p.reg, Head: n.head,
		Blocks: func(from uint64, max int) ([][]byte, error) {
			var out [][]byte
			head := n.head()
			for h := from; h <= head && len(out) < max; h++ {
				blk, err := store.Block(h)
				if err != nil {
					return out, err
				}
				out = append(out, blk.Encode())
			}
			return out, nil
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	n.host = host
	join := func(name string, validate func(string, []byte) p2p.Verdict, readers ...func(*p2p.Topic)) error {
		t, err := host.Join(name, validate)
		if err != nil {
			n.Close()
			return fmt.Errorf("node: join %s: %w", name, err)
		}
		n.topics[name] = t
		for _, r := range readers {
			n.wg.Add(1)
			go r(t)
		}
		return nil
	}
	for _, name := range []string{topicProposals, topicVotes, topicAggregates, topicTimeouts, topicCertificates} {
		if err := join(name, n.validateConsensus(name), n.readConsensus); err != nil {
			return nil, err
		}
	}
	if p.pool != nil {
		if err := join(topicTxs, n.validateTxs, n.drainTxs, n.publishTxs); err != nil {
			return nil, err
		}
	}
	n.wg.Add(2)
	go n.catchUp()
	go n.followSubnet()
	n.log.Info("p2p host started", "peer_id", host.ID(), "addrs", host.Addrs())
	return n, nil
}

// voteSubnet names committee k's vote topic.
func voteSubnet(k int) string { return fmt.Sprintf("%s/%d", topicVotes, k) }

// topicFor is the topic a message to `to` travels on: a vote to its
// committee's aggregator goes on the committee's subnet (when this node is
// in it, as the voter always is, once it has joined); everything else on
// the message kind's topic.
func (n *network) topicFor(to []uint32, m *consensus.Message) *p2p.Topic {
	n.topicsMu.RLock()
	defer n.topicsMu.RUnlock()
	if m.Kind == consensus.KindVote && len(to) == 1 && n.subnet >= 0 {
		if c := n.currentCommittees(); c != nil && c.Count() > 1 && c.Of(to[0]) == n.subnet && c.Of(m.Vote.Validator) == n.subnet {
			if t := n.topics[voteSubnet(n.subnet)]; t != nil {
				return t
			}
		}
	}
	return n.topics[topicOf(m.Kind)]
}

// currentCommittees returns the engine's committees, nil before it runs.
func (n *network) currentCommittees() *consensus.Committees {
	if f := n.committees.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// followSubnet keeps this node subscribed to its committee's vote subnet
// as committees are reshuffled each epoch.
func (n *network) followSubnet() {
	n.every(200*time.Millisecond, n.checkSubnet)
}

// every runs fn every d until the network closes; it is a goroutine of
// the network's wait group.
func (n *network) every(d time.Duration, fn func()) {
	defer n.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// checkSubnet joins this node's committee's vote subnet and leaves the
// one it had, when the committees changed.
func (n *network) checkSubnet() {
	want := -1
	if c := n.currentCommittees(); c != nil && c.Count() > 1 {
		want = c.Of(n.self)
	}
	n.topicsMu.RLock()
	have := n.subnet
	n.topicsMu.RUnlock()
	if want == have {
		return
	}
	var joined *p2p.Topic
	if want >= 0 {
		var err error
		if joined, err = n.host.Join(voteSubnet(want), n.validateConsensus(topicVotes)); err != nil {
			n.log.Warn("join vote subnet", "committee", want, "err", err)
			return
		}
	}
	n.topicsMu.Lock()
	old := n.topics[voteSubnet(have)]
	delete(n.topics, voteSubnet(have))
	if joined != nil {
		n.topics[voteSubnet(want)] = joined
	}
	n.subnet = want
	n.topicsMu.Unlock()
	if old != nil {
		old.Leave()
	}
	if joined != nil {
		n.wg.Add(1)
		go n.readConsensus(joined)
	}
	n.log.Debug("vote subnet", "committee", want, "left", have)
}

// Send publishes a consensus message on its topic (Transport).
func (n *network) Send(to []uint32, m *consensus.Message) {
	t := n.topicFor(to, m)
	if t == nil {
		return
	}
	if err := t.Publish(encodeWire(to, n.region, m)); err != nil && n.ctx.Err() == nil {
		n.log.Debug("publish failed", "kind", m.Kind, "err", err)
	}
}

func (n *network) Messages() <-chan *consensus.Message { return n.msgs }
func (n *network) Blocks() <-chan *chain.Block         { return n.blocks }

// RequestBlock fetches committed blocks from height on, from any peer that
// has them, and keeps fetching while peers are ahead (Transport). One
// fetch runs at a time.
func (n *network) RequestBlock(height uint64, _ uint32) {
	if !n.fetching.CompareAndSwap(false, true) {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.fetching.Store(false)
		n.fetchFrom(height)
	}()
}

// fetchFrom syncs blocks from height on, while peers are ahead: batches
// fetched in parallel from several peers, handed to the engine in height
// order. Each block's certificate is checked here, before the engine sees
// it, so that a peer serving a bad block is disconnected by the sync and
// the range fetched from another; the engine checks again as it applies.
func (n *network) fetchFrom(height uint64) {
	for range 1000 {
		best := n.host.BestHeight()
		if n.ctx.Err() != nil || best < height {
			return
		}
		to := min(best, height+syncWindow-1)
		last, err := n.host.Sync(n.ctx, height, to, func(h uint64, raw []byte) error {
			blk, err := chain.DecodeBlock(raw)
			if err != nil {
				return err
			}
			if blk.Header.Height != h {
				return fmt.Errorf("block of height %d for height %d", blk.Header.Height, h)
			}
			if _, err := checkCertificate(blk, n.tag, n.vals, n.crypto); err != nil {
				return err
			}
			select {
			case n.blocks <- blk:
				return nil
			case <-n.ctx.Done():
				return n.ctx.Err()
			}
		})
		if err != nil {
			n.log.Debug("block sync stopped", "from", height, "to", to, "applied", last, "err", err)
			return
		}
		height = last + 1
	}
}

// syncWindow is how many heights one Sync call covers; the next call
// starts from where the engine's chain is by then.
const syncWindow = 1024

// catchUp starts block sync when peers advertise a height beyond ours: at
// start, after a crash, or after a partition. The engine applies what
// arrives, checking every certificate.
func (n *network) catchUp() {
	n.every(time.Second, func() {
		if head := n.head(); n.host.BestHeight() > head+1 {
			n.RequestBlock(head+1, 0)
		}
	})
}

// validateConsensus checks a consensus message before p2p relays it:
// it decodes, belongs on this topic, and carries a valid signature of the
// validator it names. Whether it is timely or useful is the core's
// business; a forged or malformed one dies at the first hop.
func (n *network) validateConsensus(topic string) func(string, []byte) p2p.Verdict {
	return func(_ string, data []byte) p2p.Verdict {
		_, _, m, err := decodeWire(data)
		if err != nil || topicOf(m.Kind) != topic || int(m.From) >= n.vals.Len() {
			return p2p.Reject
		}
		if !n.signatureValid(m) {
			return p2p.Reject
		}
		return p2p.Accept
	}
}

// signatureValid checks the signature a message carries against the
// validator set.
func (n *network) signatureValid(m *consensus.Message) bool {
	nv := n.vals.Len()
	bitmapOK := func(b consensus.Bitmap) bool { return len(b) == (nv+7)/8 && b.Count() > 0 }
	switch m.Kind {
	case consensus.KindProposal:
		p := m.Proposal
		return int(p.Proposer) < nv && n.crypto.Verify(p.Proposer, consensus.ProposalSignBytes(n.tag, p.Height, p.Round, p.BlockID, p.ValidRound), p.Sig)
	case consensus.KindVote:
		v := m.Vote
		return int(v.Validator) < nv && n.crypto.Verify(v.Validator, consensus.VoteSignBytes(n.tag, v.Type, v.Height, v.Round, v.BlockID), v.Sig)
	case consensus.KindAggregate, consensus.KindQC:
		q := m.QC
		return bitmapOK(q.Signers) && n.crypto.VerifyAggregate(q.Signers, consensus.VoteSignBytes(n.tag, q.Type, q.Height, q.Round, q.BlockID), q.Sig)
	case consensus.KindTimeout:
		t := m.Timeout
		return int(t.Validator) < nv && n.crypto.Verify(t.Validator, consensus.TimeoutSignBytes(n.tag, t.Height, t.Round), t.Sig)
	case consensus.KindTC:
		t := m.TC
		return bitmapOK(t.Signers) && n.crypto.VerifyAggregate(t.Signers, consensus.TimeoutSignBytes(n.tag, t.Height, t.Round), t.Sig)
	}
	return false
}

// readConsensus hands the engine the messages meant for this validator,
// after the emulated latency from the sender's region.
func (n *network) readConsensus(t *p2p.Topic) {
	defer n.wg.Done()
	for {
		var msg p2p.Message
		var ok bool
		select {
		case <-n.ctx.Done():
			return
		case msg, ok = <-t.Messages():
			if !ok {
				return // left, or the host closed
			}
		}
		to, region, m, err := decodeWire(msg.Data)
		if err != nil || (len(to) > 0 && !slices.Contains(to, n.self)) || m.From == n.self {
			continue
		}
		if d := n.latencyFrom(region); d > 0 {
			time.AfterFunc(d, func() { n.deliver(m) })
			continue
		}
		n.deliver(m)
	}
}

func (n *network) latencyFrom(region int) time.Duration {
	if region < 0 || n.region < 0 {
		return 0
	}
	return regions[region].oneWay[n.region]
}

func (n *network) deliver(m *consensus.Message) {
	select {
	case n.msgs <- m:
	default: // the protocol recovers from a lost message
	}
}

// GossipTx queues a transaction this node admitted from a client for
// gossip. Transactions admitted from gossip are not queued: GossipSub
// relays them.
func (n *network) GossipTx(raw []byte) {
	n.txMu.Lock()
	n.txPending = append(n.txPending, raw)
	n.txBytes += len(raw)
	full := len(n.txPending) >= txBatchMax || n.txBytes >= txBatchBytes
	n.txMu.Unlock()
	if full {
		select {
		case n.txKick <- struct{}{}:
		default:
		}
	}
}

// publishTxs publishes queued transactions in batches.
func (n *network) publishTxs(t *p2p.Topic) {
	defer n.wg.Done()
	tick := time.NewTicker(txBatchDelay)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		case <-n.txKick:
		}
		for {
			n.txMu.Lock()
			k := min(len(n.txPending), txBatchMax)
			batch := n.txPending[:k:k]
			n.txPending = n.txPending[k:]
			n.txBytes = 0
			for _, r := range n.txPending {
				n.txBytes += len(r)
			}
			n.txMu.Unlock()
			if len(batch) == 0 {
				break
			}
			if err := t.Publish(encodeTxBatch(batch)); err != nil && n.ctx.Err() == nil {
				n.log.Debug("publish transactions failed", "txs", len(batch), "err", err)
			}
		}
	}
}

// validateTxs admits a gossiped batch into the pool while validating it:
// a batch that does not decode is rejected (its sender is penalised); one
// that adds nothing new is ignored (not relayed); otherwise it is relayed.
// Transactions invalid here may have been valid at the sender a moment
// ago (a nonce just used), so they cost the sender nothing.
func (n *network) validateTxs(from string, data []byte) p2p.Verdict {
	if from == n.host.ID() {
		return p2p.Accept // our own batch, admitted before it was queued
	}
	raws, err := decodeTxBatch(data)
	if err != nil {
		return p2p.Reject
	}
	added := 0
	var firstErr error
	for _, raw := range raws {
		if _, err := n.pool.Add(raw); err == nil {
			added++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if added == 0 {
		n.log.Debug("gossiped transactions added nothing", "from", from, "txs", len(raws), "err", firstErr)
		return p2p.Ignore
	}
	return p2p.Accept
}

// drainTxs empties the topic's delivery channel: the validator has done
// the work.
func (n *network) drainTxs(t *p2p.Topic) {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case _, ok := <-t.Messages():
			if !ok {
				return
			}
		}
	}
}

// Peers reports the connected peers.
func (n *network) Peers() []p2p.PeerInfo { return n.host.Peers() }

// Close stops the host (Transport).
func (n *network) Close() error {
	var err error
	n.closed.Do(func() {
		n.cancel()
		if n.host != nil {
			err = n.host.Close()
		}
		n.wg.Wait()
	})
	return err
}

// The transaction batch: count u32, then per transaction length u32 and
// bytes.
const maxTxBatch = 4096

var errTxBatch = errors.New("node: malformed transaction batch")

func encodeTxBatch(raws [][]byte) []byte {
	size := 4
	for _, r := range raws {
		size += 4 + len(r)
	}
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(len(raws)))
	for _, r := range raws {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func decodeTxBatch(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, errTxBatch
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxTxBatch {
		return nil, fmt.Errorf("%w: %d transactions", errTxBatch, n)
	}
	b = b[4:]
	out := make([][]byte, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, errTxBatch
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if l == 0 || uint64(l) > uint64(len(b)) || l > chain.MaxMaxTxBytes {
			return nil, fmt.Errorf("%w: transaction of %d bytes", errTxBatch, l)
		}
		out = append(out, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errTxBatch, len(b))
	}
	return out, nil
}
