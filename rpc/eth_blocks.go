package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

func (s *Server) chainID(context.Context, *wsConn, json.RawMessage) (any, error) {
	return hexutil.Uint64(s.chain.Rules().ChainID), nil
}

// sync is the node's sync report; without a node, the chain's head is the
// highest block there is.
func (s *Server) sync() SyncStatus {
	if s.opts.Node != nil {
		return s.opts.Node.Sync()
	}
	h, _ := s.chain.Head()
	return SyncStatus{CurrentBlock: h.Height, HighestBlock: h.Height}
}

func (s *Server) syncing(context.Context, *wsConn, json.RawMessage) (any, error) {
	return s.sync(), nil
}

func (s *Server) blockNumber(context.Context, *wsConn, json.RawMessage) (any, error) {
	h, _ := s.chain.Head()
	return json.RawMessage(strconv.AppendQuote(nil, hexutil.EncodeUint64(h.Height))), nil
}

func (s *Server) getTransactionByHash(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	if e := decodeParams(p, 1, &hash); e != nil {
		return nil, e
	}
	h, idx, err := s.chain.TxLocation(hash)
	if errors.Is(err, chain.ErrNotFound) {
		if tx, ok := s.pool.Get(hash); ok {
			return newTransaction(tx, tx.From, nil, s.chain.Rules().BaseFee())
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.txAt(h, uint64(idx))
}

// txAt returns the transaction at a position of a committed block, or nil.
func (s *Server) txAt(h, idx uint64) (any, error) {
	b, rs, err := s.blockWithReceipts(h)
	if err != nil || idx >= uint64(len(b.Txs)) {
		return nil, err
	}
	tx, err := parseStored(b.Txs[idx])
	if err != nil {
		return nil, err
	}
	return newTransaction(tx, rs[idx].From, &txLocation{blockHash: b.Hash(), height: h, index: idx}, s.chain.Rules().BaseFee())
}

// blockWithReceipts reads a committed block and its receipts, one for each
// transaction, through the block cache. The caller must not change them.
func (s *Server) blockWithReceipts(h uint64) (*chain.Block, []chain.Receipt, error) {
	return s.readBlock(h, true)
}

// readBlock reads a block and its receipts from the cache, or from the
// chain, caching them when keep is set (a scan of many blocks, which would
// push out the recent blocks that clients poll, does not keep them).
func (s *Server) readBlock(h uint64, keep bool) (*chain.Block, []chain.Receipt, error) {
	if c, ok := s.blocks.get(h); ok {
		return c.block, c.receipts, nil
	}
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, nil, err
	}
	rs, err := s.chain.Receipts(h)
	if err != nil {
		return nil, nil, err
	}
	if len(rs) != len(b.Txs) {
		return nil, nil, fmt.Errorf("rpc: block %d has %d receipts for %d transactions", h, len(rs), len(b.Txs))
	}
	if keep {
		s.blocks.put(&cachedBlock{height: h, block: b, receipts: rs})
	}
	return b, rs, nil
}

// found resolves ref for the methods that answer null for a block not yet
// made: ok is false, and err nil, for such a block.
func (s *Server) found(ref blockRef) (h uint64, ok bool, err error) {
	h, err = s.height(ref)
	var e *Error
	if errors.As(err, &e) && e.Code == CodeNotFound {
		return 0, false, nil
	}
	return h, err == nil, err
}

func (s *Server) getTransactionReceipt(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	if e := decodeParams(p, 1, &hash); e != nil {
		return nil, e
	}
	h, idx, err := s.chain.TxLocation(hash)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, rs, err := s.blockWithReceipts(h)
	if err != nil {
		return nil, err
	}
	if int(idx) >= len(b.Txs) {
		return nil, fmt.Errorf("rpc: index of %s points past block %d", hash, h)
	}
	tx, err := parseStored(b.Txs[idx])
	if err != nil {
		return nil, err
	}
	return newReceipt(tx, &rs[idx], txLocation{blockHash: b.Hash(), height: h, index: uint64(idx)}), nil
}

// getBlockReceipts answers every receipt of a block, in order; null for a
// block not yet made. Receipts past the answer's budget refuse the call.
func (s *Server) getBlockReceipts(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	if e := decodeParams(p, 1, &ref); e != nil {
		return nil, e
	}
	h, ok, err := s.found(ref)
	if !ok {
		return nil, err
	}
	b, rs, err := s.blockWithReceipts(h)
	if err != nil {
		return nil, err
	}
	hash := b.Hash()
	bud := budgetOf(ctx)
	out := newArray(bud)
	for i, raw := range b.Txs {
		tx, err := parseStored(raw)
		if err != nil {
			return nil, err
		}
		ok, err := out.add(newReceipt(tx, &rs[i], txLocation{blockHash: hash, height: h, index: uint64(i)}))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, bud.tooLarge(fmt.Sprintf("block %d has %d receipts, %d of which fit: read them one by one with eth_getTransactionReceipt", h, len(b.Txs), out.n))
		}
	}
	return out.done(), nil
}

// blockJSON answers a block, null for one not yet made. With full
// transactions, those past the answer's budget refuse the call.
func (s *Server) blockJSON(ctx context.Context, ref blockRef, full bool) (any, error) {
	h, ok, err := s.found(ref)
	if !ok {
		return nil, err
	}
	if !full {
		b, err := s.chain.Block(h)
		if errors.Is(err, chain.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return newBlock(b, s.chain.Rules(), s.gasLimit()), nil
	}
	b, rs, err := s.blockWithReceipts(h)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := newBlock(&chain.Block{Header: b.Header, Cert: b.Cert}, s.chain.Rules(), s.gasLimit())
	out.Size = hexutil.Uint64(b.EncodedSize())
	// The block without its transactions takes about its own encoding
	// (the hashes' room is spare); the transactions get the rest.
	bud := budgetOf(ctx)
	hdr, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	txs := newArray(budget{left: bud.left - len(hdr)})
	hash, base := b.Hash(), s.chain.Rules().BaseFee()
	for i, raw := range b.Txs {
		tx, err := parseStored(raw)
		if err != nil {
			return nil, err
		}
		t, err := newTransaction(tx, rs[i].From, &txLocation{blockHash: hash, height: h, index: uint64(i)}, base)
		if err != nil {
			return nil, err
		}
		ok, err := txs.add(t)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, bud.tooLarge(fmt.Sprintf("block %d has %d transactions, %d of which fit: ask without them (false), then read them one by one with eth_getTransactionByBlockNumberAndIndex", h, len(b.Txs), txs.n))
		}
	}
	// The answer is the block's encoding with the transactions in place
	// of its empty list: nothing is encoded twice.
	i := bytes.Index(hdr, []byte(emptyTxsField))
	if i < 0 {
		return nil, fmt.Errorf("rpc: block %d encodes without %s", h, emptyTxsField)
	}
	i += len(emptyTxsField) - len("[]")
	enc := txs.done()
	res := make(json.RawMessage, 0, len(hdr)-len("[]")+len(enc))
	res = append(append(append(res, hdr[:i]...), enc...), hdr[i+len("[]"):]...)
	return res, nil
}

// emptyTxsField is how a block without transactions encodes its list.
const emptyTxsField = `"transactions":[]`

func (s *Server) getBlockByNumber(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	var full bool
	if e := decodeParams(p, 1, &ref, &full); e != nil {
		return nil, e
	}
	return s.blockJSON(ctx, ref, full)
}

func (s *Server) getBlockByHash(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	var full bool
	if e := decodeParams(p, 1, &hash, &full); e != nil {
		return nil, e
	}
	return s.blockJSON(ctx, hashRef(hash), full)
}

// txCount answers the number of transactions of a block, null for one not
// yet made.
func (s *Server) txCount(ref blockRef) (any, error) {
	h, ok, err := s.found(ref)
	if !ok {
		return nil, err
	}
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	return hexutil.Uint64(len(b.Txs)), nil
}

func (s *Server) txCountByNumber(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	if e := decodeParams(p, 1, &ref); e != nil {
		return nil, e
	}
	return s.txCount(ref)
}

func (s *Server) txCountByHash(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	if e := decodeParams(p, 1, &hash); e != nil {
		return nil, e
	}
	return s.txCount(hashRef(hash))
}

func (s *Server) txByNumberAndIndex(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	var idx hexutil.Uint64
	if e := decodeParams(p, 2, &ref, &idx); e != nil {
		return nil, e
	}
	h, ok, err := s.found(ref)
	if !ok {
		return nil, err
	}
	return s.txAt(h, uint64(idx))
}

func (s *Server) txByHashAndIndex(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	var idx hexutil.Uint64
	if e := decodeParams(p, 2, &hash, &idx); e != nil {
		return nil, e
	}
	h, ok, err := s.found(hashRef(hash))
	if !ok {
		return nil, err
	}
	return s.txAt(h, uint64(idx))
}
