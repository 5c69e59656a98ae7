package node

import (
	"sync"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/rpc"
)

// rpcChain adapts the chain and its store to rpc.Chain.
type rpcChain struct{ *chain.Chain }

// visible hides a block the store already holds but the chain does not
// yet report as its head: the block's accounts are not readable until
// then, and a client that saw its receipt could read a nonce or balance
// from before it.
func (c rpcChain) visible(h uint64) error {
	if head, _ := c.Head(); h > head.Height {
		return chain.ErrNotFound
	}
	return nil
}

func (c rpcChain) Block(h uint64) (*chain.Block, error) {
	if err := c.visible(h); err != nil {
		return nil, err
	}
	return c.Store().Block(h)
}

func (c rpcChain) Header(h uint64) (*chain.Header, error) {
	if err := c.visible(h); err != nil {
		return nil, err
	}
	return c.Store().Header(h)
}

func (c rpcChain) BlockHeight(hash chain.Hash) (uint64, error) {
	h, err := c.Store().BlockHeight(hash)
	if err == nil {
		err = c.visible(h)
	}
	return h, err
}

func (c rpcChain) Receipts(h uint64) ([]chain.Receipt, error) {
	if err := c.visible(h); err != nil {
		return nil, err
	}
	return c.Store().Receipts(h)
}

func (c rpcChain) TxLocation(hash chain.Hash) (uint64, uint32, error) {
	h, i, err := c.Store().TxLocation(hash)
	if err == nil {
		err = c.visible(h)
	}
	return h, i, err
}

// rpcPool adapts the mempool to rpc.Pool: what clients send is admitted,
// journaled (written and fsynced, when the journal is on), then gossiped
// to the other nodes, then answered.
type rpcPool struct {
	*mempool.Pool
	net     *network
	journal *mempool.Journal // nil when off
}

func (p rpcPool) Add(raw []byte) (*chain.Tx, error) {
	tx, err := p.Pool.Add(raw)
	if err != nil {
		return nil, err
	}
	if err := journaled(p.journal, p.Pool, tx); err != nil {
		return nil, err
	}
	if p.net != nil {
		p.net.GossipTx(tx.Raw)
	}
	return tx, nil
}

func (p rpcPool) Stats() any { return p.Pool.Stats() }

// poolMessages maps the pool's rejections to the messages Ethereum tools
// recognise.
var poolMessages = rpc.TxMessages{
	{Rule: mempool.ErrAlreadyKnown, Message: "already known"},
	{Rule: mempool.ErrReplaceUnderpriced, Message: "replacement transaction underpriced"},
	{Rule: mempool.ErrUnderpriced, Message: "transaction underpriced"},
	{Rule: mempool.ErrShardFull, Message: rpc.MessagePoolFull, FullReason: "pool_limit"},
	{Rule: mempool.ErrSenderPendingLimit, Message: "account limit exceeded"},
	{Rule: mempool.ErrSenderQueuedLimit, Message: "account limit exceeded"},
	{Rule: mempool.ErrNonceTooFar, Message: "nonce too high"},
	{Rule: mempool.ErrJournal, Message: "transaction not accepted: the node could not persist it"},
	{Rule: mempool.ErrJournalClosed, Message: "transaction not accepted: the node is stopping"},
}

// rpcNode answers the bizra_ namespace's questions about the node.
type rpcNode struct {
	n    *Node
	head *headCert
}

func newRPCNode(n *Node) rpcNode { return rpcNode{n: n, head: &headCert{}} }

// headCert keeps the head block's certificate, so that bizra_status reads
// the block once per height, not once per call.
type headCert struct {
	mu     sync.Mutex
	height uint64
	cert   hexutil.Bytes // nil until read
}

func (r rpcNode) headCertificate(height uint64) hexutil.Bytes {
	r.head.mu.Lock()
	defer r.head.mu.Unlock()
	if r.head.cert != nil && r.head.height == height {
		return r.head.cert
	}
	blk, err := r.n.store.Block(height)
	if err != nil {
		return nil
	}
	r.head.height, r.head.cert = height, append(hexutil.Bytes{}, blk.Cert...)
	return r.head.cert
}

// Status leaves GenesisHash to the server, which hashes the genesis once.
func (r rpcNode) Status() rpc.Status {
	head, hash := r.n.chain.Head()
	st := r.n.engine.Status()
	cert := r.headCertificate(head.Height)
	out := rpc.Status{
		ChainID:         hexutil.Uint64(r.n.genesis.ChainID),
		Height:          hexutil.Uint64(head.Height),
		Head:            hash,
		Round:           hexutil.Uint64(st.Round),
		LastCertificate: cert,
		Validator:       r.n.self.Name,
		Version:         r.n.version,
	}
	return out
}

// Sync reports the node's sync state by its one rule (Node.SyncState).
func (r rpcNode) Sync() rpc.SyncStatus {
	st := r.n.SyncState()
	return rpc.SyncStatus{Syncing: st.Syncing, StartingBlock: st.Starting, CurrentBlock: st.Current, HighestBlock: st.Highest}
}

func (r rpcNode) Validators() []rpc.Validator {
	part := r.n.engine.Participation()
	st := r.n.engine.Consensus()
	out := make([]rpc.Validator, 0, len(r.n.genesis.Validators))
	for i, v := range r.n.genesis.Validators {
		rv := rpc.Validator{Name: v.Name, Address: v.Address, PubKey: hexutil.Bytes(v.PubKey), Stake: hexutil.Uint64(v.Stake),
			Signed: part.Signed[i], Blocks: part.Blocks}
		if st.Committees != nil {
			rv.Committee = st.Committees.Of(uint32(i))
		}
		if part.Blocks > 0 {
			share := float64(part.Signed[i]) / float64(part.Blocks)
			rv.Participation = &share
		}
		out = append(out, rv)
	}
	return out
}

func (r rpcNode) Consensus() rpc.Consensus {
	st := r.n.engine.Consensus()
	out := rpc.Consensus{
		Height: hexutil.Uint64(st.Height), Round: hexutil.Uint64(st.Round), Step: st.Step,
		Leader:              r.n.genesis.Validators[st.Leader].Name,
		Rounds:              hexutil.Uint64(st.Stats.Rounds),
		Timeouts:            hexutil.Uint64(st.Stats.Timeouts),
		TimeoutCertificates: hexutil.Uint64(st.Stats.TimeoutCerts),
		CertificatesFormed:  hexutil.Uint64(st.Stats.CertsFormed),
		VotesReceived:       hexutil.Uint64(st.Stats.VotesReceived),
		AggregatesReceived:  hexutil.Uint64(st.Stats.AggregatesReceived),
		BadSignatures:       hexutil.Uint64(st.Stats.BadSignatures),
	}
	if st.LockedRound != consensus.NoRound {
		lr := hexutil.Uint64(st.LockedRound)
		out.LockedRound = &lr
	}
	if st.LastCommit != nil {
		out.LastCertificate = r.certificate(st.LastCommit)
	}
	return out
}

func (r rpcNode) Certificate(raw []byte) (*rpc.Certificate, error) {
	qc, err := consensus.DecodeQC(raw)
	if err != nil {
		return nil, err
	}
	return r.certificate(qc), nil
}

func (r rpcNode) certificate(qc *consensus.QC) *rpc.Certificate {
	vals := r.n.genesis.Validators
	c := &rpc.Certificate{
		Type: qc.Type.String(), Height: hexutil.Uint64(qc.Height), Round: hexutil.Uint64(qc.Round), BlockHash: qc.BlockID,
		Signers: []string{}, TotalStake: hexutil.Uint64(r.n.genesis.TotalStake()), Signature: hexutil.Bytes(qc.Sig),
	}
	for _, i := range qc.Signers.Members() {
		if int(i) < len(vals) {
			c.Signers = append(c.Signers, vals[i].Name)
			c.SignedStake += hexutil.Uint64(vals[i].Stake)
		}
	}
	return c
}

func (r rpcNode) Peers() []rpc.Peer {
	out := []rpc.Peer{}
	if r.n.net == nil {
		return out
	}
	for _, p := range r.n.net.Peers() {
		out = append(out, rpc.Peer{ID: p.ID, Addrs: p.Addrs, Inbound: p.Inbound, Persistent: p.Persistent, Score: p.Score, Height: hexutil.Uint64(p.Height)})
	}
	return out
}
