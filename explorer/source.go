package explorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/gorilla/websocket"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// Block is one block as the explorer indexes it.
type Block struct {
	Height      uint64
	Hash        chain.Hash
	Parent      chain.Hash
	Proposer    chain.Address
	TimestampMs uint64
	Round       uint64
	GasUsed     uint64
	Signers     []string
	SignedStake uint64
	TotalStake  uint64
	SeenAt      time.Time // zero when backfilled
	Txs         []Tx
}

// Tx is one transaction as the explorer indexes it.
type Tx struct {
	Hash     chain.Hash
	From, To chain.Address
	Value    *big.Int
	Nonce    uint64
	GasPrice *big.Int
	Fee      *big.Int
	Status   uint8
}

// source reads a node over JSON-RPC.
type source struct {
	c     *rpc.Client
	wsURL string
	raw   atomic.Bool // use bizra_getRawBlocks
}

func newSource(cfg Config) *source {
	s := &source{c: rpc.NewClient(cfg.RPC, cfg.FetchWorkers+2), wsURL: cfg.wsURL()}
	s.raw.Store(cfg.RawBlocks)
	return s
}

// chainInfo is the identity of the node's chain.
type chainInfo struct {
	ChainID     uint64
	GenesisHash chain.Hash
	Height      uint64
}

func (s *source) status(ctx context.Context) (chainInfo, error) {
	var st rpc.Status
	if err := s.c.Call(ctx, &st, "bizra_status"); err != nil {
		return chainInfo{}, err
	}
	return chainInfo{ChainID: uint64(st.ChainID), GenesisHash: st.GenesisHash, Height: uint64(st.Height)}, nil
}

func (s *source) head(ctx context.Context) (uint64, error) {
	var h hexutil.Uint64
	err := s.c.Call(ctx, &h, "eth_blockNumber")
	return uint64(h), err
}

func (s *source) validators(ctx context.Context) ([]rpc.Validator, error) {
	var vs []rpc.Validator
	err := s.c.Call(ctx, &vs, "bizra_validators")
	return vs, err
}

// fetch reads blocks from..to (inclusive): each block with its
// transactions, receipts and certificate, in one JSON-RPC batch. When the
// node refuses an answer that large, the range is split in halves, down to
// one call per request for a single block.
func (s *source) fetch(ctx context.Context, from, to uint64) ([]*Block, error) {
	bs, err := s.fetchOnce(ctx, from, to, to > from)
	if !tooLarge(err) {
		return bs, err
	}
	if from == to {
		return s.fetchOnce(ctx, from, to, false)
	}
	mid := from + (to-from)/2
	a, err := s.fetch(ctx, from, mid)
	if err != nil {
		return nil, err
	}
	b, err := s.fetch(ctx, mid+1, to)
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

// tooLarge tells the node's refusal of an answer too large for one request
// from its other limits (a rate limit must not be met with more requests).
func tooLarge(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re) && re.Code == rpc.CodeLimitExceeded && re.Data == rpc.DataTooLarge
}

// fetchOnce reads from..to with bizra_getRawBlocks when the node has it,
// otherwise with the Ethereum methods.
func (s *source) fetchOnce(ctx context.Context, from, to uint64, batch bool) ([]*Block, error) {
	if s.raw.Load() {
		bs, err := s.fetchRaw(ctx, from, to)
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeMethodNotFound {
			return bs, err
		}
		s.raw.Store(false) // an older node: use the Ethereum methods from now on
	}
	return s.fetchBatch(ctx, from, to, batch)
}

// fetchRaw reads from..to with one bizra_getRawBlocks call and decodes the
// store encodings, checking each block's transaction and receipt roots.
func (s *source) fetchRaw(ctx context.Context, from, to uint64) ([]*Block, error) {
	var raws []rpc.RawBlock
	if err := s.c.Call(ctx, &raws, "bizra_getRawBlocks", hexutil.Uint64(from), hexutil.Uint64(to-from+1)); err != nil {
		return nil, err
	}
	if len(raws) != int(to-from+1) {
		return nil, fmt.Errorf("%w: asked for blocks %d..%d, got %d", errNotYet, from, to, len(raws))
	}
	out := make([]*Block, len(raws))
	for i := range raws {
		b, err := decodeRaw(from+uint64(i), &raws[i])
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// decodeRaw turns one bizra_getRawBlocks entry into a Block.
func decodeRaw(height uint64, raw *rpc.RawBlock) (*Block, error) {
	cb, err := chain.DecodeBlock(raw.Block)
	if err != nil {
		return nil, fmt.Errorf("explorer: block %d: %w", height, err)
	}
	rs, err := chain.DecodeReceipts(raw.Receipts)
	if err != nil {
		return nil, fmt.Errorf("explorer: block %d receipts: %w", height, err)
	}
	h := &cb.Header
	if h.Height != height || uint64(raw.Number) != height {
		return nil, fmt.Errorf("explorer: asked for block %d, got %d", height, h.Height)
	}
	if len(rs) != len(cb.Txs) {
		return nil, fmt.Errorf("explorer: block %d has %d receipts for %d transactions", height, len(rs), len(cb.Txs))
	}
	hashes := cb.TxHashes()
	if chain.MerkleRoot(hashes) != h.TxRoot || chain.ReceiptsRoot(rs) != h.ReceiptsRoot {
		return nil, fmt.Errorf("explorer: block %d: transactions or receipts do not match the header's roots", height)
	}
	b := &Block{Height: height, Hash: cb.Hash(), Parent: h.ParentHash, Proposer: h.Proposer, TimestampMs: h.Timestamp,
		Round: h.Round, GasUsed: h.GasUsed, Txs: make([]Tx, len(cb.Txs))}
	if c := raw.Certificate; c != nil {
		b.Signers, b.SignedStake, b.TotalStake = c.Signers, uint64(c.SignedStake), uint64(c.TotalStake)
	}
	var eth types.Transaction
	for i, rawTx := range cb.Txs {
		if err := eth.UnmarshalBinary(rawTx); err != nil {
			return nil, fmt.Errorf("explorer: block %d transaction %d: %w", height, i, err)
		}
		r := &rs[i]
		t := Tx{Hash: hashes[i], From: r.From, Nonce: eth.Nonce(), Status: r.Status, Value: eth.Value(),
			GasPrice: r.EffectiveGasPrice.ToBig()}
		if to := eth.To(); to != nil {
			t.To = *to
		}
		t.Fee = new(big.Int).Mul(t.GasPrice, new(big.Int).SetUint64(r.GasUsed))
		b.Txs[i] = t
	}
	return b, nil
}

// fetchBatch reads from..to in one batch, or with one request per call when
// batch is false (for one block too large for a batch answer).
func (s *source) fetchBatch(ctx context.Context, from, to uint64, batch bool) ([]*Block, error) {
	n := int(to - from + 1)
	blocks := make([]rpc.Block, n)
	receipts := make([][]rpc.Receipt, n)
	certs := make([]rpc.BlockCertificate, n)
	calls := make([]rpc.BatchElem, 0, 3*n)
	for i := 0; i < n; i++ {
		h := hexutil.Uint64(from + uint64(i)).String()
		calls = append(calls,
			rpc.BatchElem{Method: "eth_getBlockByNumber", Params: []any{h, true}, Result: &blocks[i]},
			rpc.BatchElem{Method: "eth_getBlockReceipts", Params: []any{h}, Result: &receipts[i]},
			rpc.BatchElem{Method: "bizra_getBlockCertificate", Params: []any{h}, Result: &certs[i]})
	}
	if batch || len(calls) == 1 {
		if err := s.c.BatchCall(ctx, calls); err != nil {
			return nil, err
		}
	} else {
		for i := range calls {
			calls[i].Err = s.c.Call(ctx, calls[i].Result, calls[i].Method, calls[i].Params...)
		}
	}
	for _, c := range calls {
		if c.Err != nil {
			return nil, fmt.Errorf("%s: %w", c.Method, c.Err)
		}
	}
	out := make([]*Block, n)
	for i := range blocks {
		b, err := convert(from+uint64(i), &blocks[i], receipts[i], &certs[i])
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// errNotYet means the node does not have a block yet.
var errNotYet = errors.New("explorer: block not yet on the node")

// convert turns a block, its receipts and its certificate as the Ethereum
// methods and bizra_getBlockCertificate answer them into a Block.
func convert(height uint64, jb *rpc.Block, rs []rpc.Receipt, jc *rpc.BlockCertificate) (*Block, error) {
	if jb.Hash == (chain.Hash{}) {
		return nil, fmt.Errorf("%w: %d", errNotYet, height)
	}
	if uint64(jb.Number) != height {
		return nil, fmt.Errorf("explorer: asked for block %d, got %d", height, jb.Number)
	}
	var txs []rpc.Transaction
	if jb.Transactions != nil {
		if len(jb.Transactions.Hashes) > 0 {
			return nil, fmt.Errorf("explorer: block %d has transaction hashes, not transactions", height)
		}
		txs = jb.Transactions.Full
	}
	if len(rs) != len(txs) {
		return nil, fmt.Errorf("explorer: block %d has %d receipts for %d transactions", height, len(rs), len(txs))
	}
	b := &Block{Height: height, Hash: jb.Hash, Parent: jb.ParentHash, Proposer: jb.Miner,
		TimestampMs: uint64(jb.TimestampMs), Round: uint64(jb.Round), GasUsed: uint64(jb.GasUsed),
		Txs: make([]Tx, len(txs))}
	if c := jc.Decoded; c != nil {
		b.Signers, b.SignedStake, b.TotalStake = c.Signers, uint64(c.SignedStake), uint64(c.TotalStake)
	}
	for i := range txs {
		jt, r := &txs[i], &rs[i]
		if r.TransactionHash != jt.Hash {
			return nil, fmt.Errorf("explorer: block %d: receipt %d is for %s, not %s", height, i, r.TransactionHash, jt.Hash)
		}
		t := Tx{Hash: jt.Hash, From: jt.From, Nonce: uint64(jt.Nonce), Status: uint8(r.Status),
			Value: new(big.Int), GasPrice: new(big.Int), Fee: new(big.Int)}
		if jt.To != nil {
			t.To = *jt.To
		}
		if jt.Value != nil {
			t.Value = jt.Value.ToInt()
		}
		price := jt.GasPrice
		if r.EffectiveGasPrice != nil {
			price = r.EffectiveGasPrice
		}
		if price != nil {
			t.GasPrice = price.ToInt()
		}
		t.Fee.Mul(t.GasPrice, new(big.Int).SetUint64(uint64(r.GasUsed)))
		b.Txs[i] = t
	}
	return b, nil
}

// subscribeHeads sends the height of every new head on heads until the
// subscription fails or ctx ends. It returns the error that ended it.
func (s *source) subscribeHeads(ctx context.Context, heads chan<- uint64) error {
	if s.wsURL == "" {
		return errors.New("explorer: no WebSocket URL")
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.DialContext(ctx, s.wsURL, http.Header{})
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := `{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		return err
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		var msg struct {
			Error  *rpc.Error `json:"error"`
			Params struct {
				Result struct {
					Number hexutil.Uint64 `json:"number"`
				} `json:"result"`
			} `json:"params"`
			Method string `json:"method"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			return fmt.Errorf("explorer: newHeads: %w", err)
		}
		if msg.Error != nil {
			return msg.Error
		}
		if msg.Method != "eth_subscription" {
			continue
		}
		select {
		case heads <- uint64(msg.Params.Result.Number):
		default: // the indexer is busy; it reads the head again anyway
		}
	}
}
