package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sort"
	"strconv"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

// api returns the method table.
func (s *Server) api() map[string]method {
	m := map[string]method{
		"web3_clientVersion":                      s.clientVersion,
		"web3_sha3":                               s.sha3,
		"net_version":                             s.netVersion,
		"net_listening":                           constant(true),
		"net_peerCount":                           s.peerCount,
		"eth_chainId":                             s.chainID,
		"eth_syncing":                             s.syncing,
		"eth_blockNumber":                         s.blockNumber,
		"eth_getBalance":                          s.getBalance,
		"eth_getTransactionCount":                 s.getTransactionCount,
		"eth_getCode":                             s.getCode,
		"eth_getStorageAt":                        s.getStorageAt,
		"eth_call":                                s.ethCall,
		"eth_estimateGas":                         s.estimateGas,
		"eth_gasPrice":                            s.gasPrice,
		"eth_maxPriorityFeePerGas":                s.maxPriorityFee,
		"eth_feeHistory":                          s.feeHistory,
		"eth_sendRawTransaction":                  s.sendRawTransaction,
		"eth_getTransactionByHash":                s.getTransactionByHash,
		"eth_getTransactionReceipt":               s.getTransactionReceipt,
		"eth_getBlockReceipts":                    s.getBlockReceipts,
		"eth_getBlockByNumber":                    s.getBlockByNumber,
		"eth_getBlockByHash":                      s.getBlockByHash,
		"eth_getBlockTransactionCountByNumber":    s.txCountByNumber,
		"eth_getBlockTransactionCountByHash":      s.txCountByHash,
		"eth_getTransactionByBlockNumberAndIndex": s.txByNumberAndIndex,
		"eth_getTransactionByBlockHashAndIndex":   s.txByHashAndIndex,
		"eth_getUncleCountByBlockNumber":          constant(hexutil.Uint64(0)),
		"eth_getUncleCountByBlockHash":            constant(hexutil.Uint64(0)),
		"eth_accounts":                            constant([]chain.Address{}),
		"eth_mining":                              constant(false),
		"eth_hashrate":                            constant(hexutil.Uint64(0)),
		"eth_subscribe":                           s.ethSubscribe,
		"eth_unsubscribe":                         s.ethUnsubscribe,
		"bizra_status":                            s.status,
		"bizra_validators":                        s.validators,
		"bizra_peers":                             s.peers,
		"bizra_mempool":                           s.mempool,
		"bizra_getBlockCertificate":               s.blockCertificate,
		"bizra_getRawBlocks":                      s.rawBlocks,
		"bizra_consensus":                         s.consensus,
	}
	return m
}

func constant(v any) method {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	raw := json.RawMessage(b)
	return func(context.Context, *wsConn, json.RawMessage) (any, error) { return raw, nil }
}

func (s *Server) clientVersion(context.Context, *wsConn, json.RawMessage) (any, error) {
	v := s.opts.ClientVersion
	if v == "" {
		v = "bizra"
	}
	return fmt.Sprintf("%s/%s-%s/%s", v, runtime.GOOS, runtime.GOARCH, runtime.Version()), nil
}

func (s *Server) sha3(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var data hexutil.Bytes
	if e := decodeParams(p, 1, &data); e != nil {
		return nil, e
	}
	return chain.Keccak256(data), nil
}

func (s *Server) netVersion(context.Context, *wsConn, json.RawMessage) (any, error) {
	return strconv.FormatUint(s.chain.Rules().ChainID, 10), nil
}

func (s *Server) peerCount(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node == nil {
		return hexutil.Uint64(0), nil
	}
	return hexutil.Uint64(len(s.opts.Node.Peers())), nil
}

func (s *Server) chainID(context.Context, *wsConn, json.RawMessage) (any, error) {
	return hexutil.Uint64(s.chain.Rules().ChainID), nil
}

func (s *Server) syncing(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node != nil && s.opts.Node.Status().Syncing {
		h, _ := s.chain.Head()
		return map[string]hexutil.Uint64{"startingBlock": 0, "currentBlock": hexutil.Uint64(h.Height), "highestBlock": hexutil.Uint64(h.Height)}, nil
	}
	return false, nil
}

func (s *Server) blockNumber(context.Context, *wsConn, json.RawMessage) (any, error) {
	h, _ := s.chain.Head()
	return json.RawMessage(strconv.AppendQuote(nil, hexutil.EncodeUint64(h.Height))), nil
}

// blockRef is a block parameter: a tag, a number, or (EIP-1898) a hash.
type blockRef struct {
	tag    string
	number uint64
	hash   *chain.Hash
}

func (b *blockRef) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '{' {
		var obj struct {
			BlockNumber *string     `json:"blockNumber"`
			BlockHash   *chain.Hash `json:"blockHash"`
			Canonical   *bool       `json:"requireCanonical"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
		switch {
		case obj.BlockHash != nil && obj.BlockNumber != nil:
			return errors.New("give blockNumber or blockHash, not both")
		case obj.BlockHash != nil:
			b.hash = obj.BlockHash
			return nil
		case obj.BlockNumber != nil:
			return b.parse(*obj.BlockNumber)
		}
		return errors.New("blockNumber or blockHash is required")
	}
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return fmt.Errorf("block must be a tag, a 0x number or a hash object: %s", data)
	}
	return b.parse(str)
}

func (b *blockRef) parse(str string) error {
	switch str {
	case "latest", "pending", "safe", "finalized", "earliest":
		b.tag = str
		return nil
	}
	n, err := hexutil.DecodeUint64(str)
	if err != nil {
		return fmt.Errorf("block number %q: %v", str, err)
	}
	b.number = n
	b.tag = "number"
	return nil
}

// latestRef is the default block parameter.
var latestRef = blockRef{tag: "latest"}

// height resolves a reference to a height on the chain. Blocks commit with
// finality, so safe, finalized and pending all mean the head.
func (s *Server) height(ref blockRef) (uint64, error) {
	head, _ := s.chain.Head()
	switch {
	case ref.hash != nil:
		h, err := s.chain.BlockHeight(*ref.hash)
		if errors.Is(err, chain.ErrNotFound) {
			return 0, &Error{Code: CodeNotFound, Message: fmt.Sprintf("block %s not found", ref.hash)}
		}
		return h, err
	case ref.tag == "earliest":
		return 0, nil
	case ref.tag == "number":
		if ref.number > head.Height {
			return 0, &Error{Code: CodeNotFound, Message: fmt.Sprintf("block %d not found (head is %d)", ref.number, head.Height)}
		}
		return ref.number, nil
	}
	return head.Height, nil
}

// stateAt checks that state is asked of the head: the node keeps only the
// latest state.
func (s *Server) stateAt(ref blockRef) error {
	h, err := s.height(ref)
	if err != nil {
		return err
	}
	if head, _ := s.chain.Head(); h != head.Height {
		return errServer("state at block %d is not available: this node keeps only the latest state (block %d)", h, head.Height)
	}
	return nil
}

func (s *Server) getBalance(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var addr chain.Address
	ref := latestRef
	if e := decodeParams(p, 1, &addr, &ref); e != nil {
		return nil, e
	}
	if err := s.stateAt(ref); err != nil {
		return nil, err
	}
	a, err := s.chain.Account(addr)
	if err != nil {
		return nil, err
	}
	return (*hexutil.U256)(&a.Balance), nil
}

func (s *Server) getTransactionCount(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var addr chain.Address
	ref := latestRef
	if e := decodeParams(p, 1, &addr, &ref); e != nil {
		return nil, e
	}
	if ref.tag == "pending" {
		if n, ok := s.pool.PendingNonce(addr); ok {
			return hexutil.Uint64(n), nil
		}
	}
	if err := s.stateAt(ref); err != nil {
		return nil, err
	}
	a, err := s.chain.Account(addr)
	if err != nil {
		return nil, err
	}
	return hexutil.Uint64(a.Nonce), nil
}

func (s *Server) getCode(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var addr chain.Address
	ref := latestRef
	if e := decodeParams(p, 1, &addr, &ref); e != nil {
		return nil, e
	}
	if _, err := s.height(ref); err != nil {
		return nil, err
	}
	return hexutil.Bytes{}, nil // no contracts
}

func (s *Server) getStorageAt(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var addr chain.Address
	var slot string
	ref := latestRef
	if e := decodeParams(p, 2, &addr, &slot, &ref); e != nil {
		return nil, e
	}
	if _, err := hexutil.DecodeBig(slot); err != nil && len(slot) != 66 {
		return nil, errInvalidParams("invalid argument 1: storage slot %q: %v", slot, err)
	}
	if _, err := s.height(ref); err != nil {
		return nil, err
	}
	return chain.Hash{}, nil // no contract storage
}

// callArgs are the arguments of eth_call and eth_estimateGas.
type callArgs struct {
	From                 *chain.Address  `json:"from"`
	To                   *chain.Address  `json:"to"`
	Gas                  *hexutil.Uint64 `json:"gas"`
	GasPrice             *hexutil.Big    `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big    `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big    `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big    `json:"value"`
	Nonce                *hexutil.Uint64 `json:"nonce"`
	Data                 *hexutil.Bytes  `json:"data"`
	Input                *hexutil.Bytes  `json:"input"`
	ChainID              *hexutil.Big    `json:"chainId"`
	Type                 *hexutil.Uint64 `json:"type"`
	AccessList           json.RawMessage `json:"accessList"`
}

// checkTransfer refuses what is not a plain transfer.
func (a *callArgs) checkTransfer() error {
	if a.To == nil {
		return errServer("contract creation not supported: this chain has no EVM")
	}
	if (a.Data != nil && len(*a.Data) > 0) || (a.Input != nil && len(*a.Input) > 0) {
		return errServer("transaction data not supported: this chain has no EVM")
	}
	return nil
}

func (s *Server) ethCall(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var args callArgs
	ref := latestRef
	var overrides json.RawMessage
	if e := decodeParams(p, 1, &args, &ref, &overrides); e != nil {
		return nil, e
	}
	if _, err := s.height(ref); err != nil {
		return nil, err
	}
	if err := args.checkTransfer(); err != nil {
		return nil, err
	}
	return hexutil.Bytes{}, nil // a transfer returns no data
}

func (s *Server) estimateGas(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var args callArgs
	ref := latestRef
	if e := decodeParams(p, 1, &args, &ref); e != nil {
		return nil, e
	}
	if err := args.checkTransfer(); err != nil {
		return nil, err
	}
	if args.From != nil && args.Value != nil {
		a, err := s.chain.Account(*args.From)
		if err != nil {
			return nil, err
		}
		v, overflow := uint256.FromBig((*big.Int)(args.Value))
		if overflow || a.Balance.Lt(v) {
			return nil, errServer("insufficient funds for transfer")
		}
	}
	return hexutil.Uint64(chain.TransferGas), nil
}

// suggestedGasPrice is the base fee plus the suggested tip.
func (s *Server) suggestedGasPrice() *uint256.Int {
	var p uint256.Int
	p.Add(s.chain.Rules().BaseFee(), uint256.NewInt(s.opts.SuggestedTip))
	return &p
}

func (s *Server) gasPrice(context.Context, *wsConn, json.RawMessage) (any, error) {
	return (*hexutil.U256)(s.suggestedGasPrice()), nil
}

func (s *Server) maxPriorityFee(context.Context, *wsConn, json.RawMessage) (any, error) {
	return hexutil.Uint64(s.opts.SuggestedTip), nil
}

// maxFeeHistory bounds eth_feeHistory's block count; asking for reward
// percentiles, which reads every receipt of every block, is bounded lower.
const (
	maxFeeHistory        = 1024
	maxFeeHistoryRewards = 128
)

func (s *Server) feeHistory(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var count hexutil.Uint64
	var newest blockRef
	var percentiles []float64
	if e := decodeParams(p, 2, &count, &newest, &percentiles); e != nil {
		return nil, e
	}
	if count == 0 {
		return nil, errInvalidParams("blockCount must be at least 1")
	}
	if len(percentiles) > 100 {
		return nil, errInvalidParams("at most 100 reward percentiles")
	}
	for i, pc := range percentiles {
		if pc < 0 || pc > 100 || (i > 0 && pc < percentiles[i-1]) {
			return nil, errInvalidParams("reward percentiles must rise monotonically within [0, 100]")
		}
	}
	last, err := s.height(newest)
	if err != nil {
		return nil, err
	}
	limit := uint64(maxFeeHistory)
	if len(percentiles) > 0 {
		limit = maxFeeHistoryRewards
	}
	n := min(uint64(count), limit, last+1)
	first := last + 1 - n
	base := (*hexutil.U256)(s.chain.Rules().BaseFee())
	out := struct {
		OldestBlock   hexutil.Uint64    `json:"oldestBlock"`
		BaseFeePerGas []*hexutil.U256   `json:"baseFeePerGas"`
		GasUsedRatio  []float64         `json:"gasUsedRatio"`
		Reward        [][]*hexutil.U256 `json:"reward,omitempty"`
	}{OldestBlock: hexutil.Uint64(first)}
	gasLimit := float64(s.gasLimit())
	for h := first; h <= last; h++ {
		if err := ctx.Err(); err != nil {
			return nil, errServer("request timed out")
		}
		hdr, err := s.header(h)
		if err != nil {
			return nil, err
		}
		out.BaseFeePerGas = append(out.BaseFeePerGas, base)
		out.GasUsedRatio = append(out.GasUsedRatio, float64(hdr.GasUsed)/gasLimit)
		if len(percentiles) > 0 {
			rs, err := s.chain.Receipts(h)
			if err != nil {
				return nil, err
			}
			out.Reward = append(out.Reward, s.rewards(rs, percentiles))
		}
	}
	out.BaseFeePerGas = append(out.BaseFeePerGas, base) // the next block's
	return out, nil
}

// rewards returns the tips paid at the given percentiles of gas used; all
// transfers use the same gas, so a percentile of gas is a percentile of
// transactions.
func (s *Server) rewards(rs []chain.Receipt, percentiles []float64) []*hexutil.U256 {
	out := make([]*hexutil.U256, len(percentiles))
	if len(rs) == 0 {
		for i := range out {
			out[i] = new(hexutil.U256)
		}
		return out
	}
	tips := make([]uint256.Int, len(rs))
	base := s.chain.Rules().BaseFee()
	for i := range rs {
		if !rs[i].EffectiveGasPrice.Lt(base) {
			tips[i].Sub(&rs[i].EffectiveGasPrice, base)
		}
	}
	sort.Slice(tips, func(i, j int) bool { return tips[i].Lt(&tips[j]) })
	for i, pc := range percentiles {
		k := int(pc / 100 * float64(len(tips)-1))
		v := tips[k]
		out[i] = (*hexutil.U256)(&v)
	}
	return out
}

func (s *Server) header(h uint64) (*chain.Header, error) {
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	return &b.Header, nil
}

func (s *Server) sendRawTransaction(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var raw hexutil.Bytes
	if e := decodeParams(p, 1, &raw); e != nil {
		return nil, e
	}
	tx, err := s.pool.Add(raw)
	if err != nil {
		return nil, s.txError(err)
	}
	return tx.Hash, nil
}

func (s *Server) getTransactionByHash(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	if e := decodeParams(p, 1, &hash); e != nil {
		return nil, e
	}
	h, idx, err := s.chain.TxLocation(hash)
	if errors.Is(err, chain.ErrNotFound) {
		if tx, ok := s.pool.Get(hash); ok {
			return newRPCTx(tx, tx.From, nil, s.chain.Rules().BaseFee())
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
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	if idx >= uint64(len(b.Txs)) {
		return nil, nil
	}
	rs, err := s.chain.Receipts(h)
	if err != nil {
		return nil, err
	}
	tx, err := parseStored(b.Txs[idx])
	if err != nil {
		return nil, err
	}
	return newRPCTx(tx, rs[idx].From, &txLocation{blockHash: b.Hash(), height: h, index: idx}, s.chain.Rules().BaseFee())
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
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	rs, err := s.chain.Receipts(h)
	if err != nil {
		return nil, err
	}
	if int(idx) >= len(b.Txs) || int(idx) >= len(rs) {
		return nil, fmt.Errorf("rpc: index of %s points past block %d", hash, h)
	}
	tx, err := parseStored(b.Txs[idx])
	if err != nil {
		return nil, err
	}
	return newRPCReceipt(tx, &rs[idx], txLocation{blockHash: b.Hash(), height: h, index: uint64(idx)}), nil
}

// getBlockReceipts answers every receipt of a block, in order; null for a
// block not yet made.
func (s *Server) getBlockReceipts(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	if e := decodeParams(p, 1, &ref); e != nil {
		return nil, e
	}
	h, err := s.height(ref)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeNotFound {
			return nil, nil
		}
		return nil, err
	}
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	rs, err := s.chain.Receipts(h)
	if err != nil {
		return nil, err
	}
	if len(rs) != len(b.Txs) {
		return nil, fmt.Errorf("rpc: block %d has %d receipts for %d transactions", h, len(rs), len(b.Txs))
	}
	hash := b.Hash()
	out := make([]*rpcReceipt, len(b.Txs))
	for i, raw := range b.Txs {
		tx, err := parseStored(raw)
		if err != nil {
			return nil, err
		}
		out[i] = newRPCReceipt(tx, &rs[i], txLocation{blockHash: hash, height: h, index: uint64(i)})
	}
	return out, nil
}

func (s *Server) blockJSON(h uint64, full bool) (any, error) {
	b, err := s.chain.Block(h)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs []chain.Receipt
	if full {
		if rs, err = s.chain.Receipts(h); err != nil {
			return nil, err
		}
	}
	return newRPCBlock(b, rs, full, s.chain.Rules(), s.gasLimit())
}

func (s *Server) getBlockByNumber(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	var full bool
	if e := decodeParams(p, 1, &ref, &full); e != nil {
		return nil, e
	}
	h, err := s.height(ref)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeNotFound {
			return nil, nil // Ethereum answers null for a block not yet made
		}
		return nil, err
	}
	return s.blockJSON(h, full)
}

func (s *Server) getBlockByHash(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	var full bool
	if e := decodeParams(p, 1, &hash, &full); e != nil {
		return nil, e
	}
	h, err := s.chain.BlockHeight(hash)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.blockJSON(h, full)
}

func (s *Server) txCount(h uint64, err error) (any, error) {
	if err != nil {
		var e *Error
		if errors.Is(err, chain.ErrNotFound) || (errors.As(err, &e) && e.Code == CodeNotFound) {
			return nil, nil
		}
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
	return s.txCount(s.height(ref))
}

func (s *Server) txCountByHash(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	if e := decodeParams(p, 1, &hash); e != nil {
		return nil, e
	}
	return s.txCount(s.chain.BlockHeight(hash))
}

func (s *Server) txByNumberAndIndex(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	var idx hexutil.Uint64
	if e := decodeParams(p, 2, &ref, &idx); e != nil {
		return nil, e
	}
	h, err := s.height(ref)
	if err != nil {
		return nil, nil
	}
	return s.txAt(h, uint64(idx))
}

func (s *Server) txByHashAndIndex(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var hash chain.Hash
	var idx hexutil.Uint64
	if e := decodeParams(p, 2, &hash, &idx); e != nil {
		return nil, e
	}
	h, err := s.chain.BlockHeight(hash)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.txAt(h, uint64(idx))
}

func (s *Server) ethSubscribe(_ context.Context, conn *wsConn, p json.RawMessage) (any, error) {
	var kind string
	var opts json.RawMessage
	if e := decodeParams(p, 1, &kind, &opts); e != nil {
		return nil, e
	}
	switch kind {
	case subHeads, subPending:
	case "logs", "syncing":
		return nil, errInvalidParams("subscription %q not supported: this chain has no logs and syncs no blocks yet", kind)
	default:
		return nil, errInvalidParams("no %q subscription; have newHeads and newPendingTransactions", kind)
	}
	return s.subscribe(conn, kind)
}

func (s *Server) ethUnsubscribe(_ context.Context, conn *wsConn, p json.RawMessage) (any, error) {
	var id string
	if e := decodeParams(p, 1, &id); e != nil {
		return nil, e
	}
	return s.unsubscribe(conn, id), nil
}

func (s *Server) status(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node != nil {
		return s.opts.Node.Status(), nil
	}
	head, hash := s.chain.Head()
	g := s.chain.Genesis()
	return Status{ChainID: hexutil.Uint64(g.ChainID), GenesisHash: g.Hash(), Height: hexutil.Uint64(head.Height), Head: hash, Round: hexutil.Uint64(head.Round), Version: s.opts.ClientVersion, LastCertificate: hexutil.Bytes{}}, nil
}

func (s *Server) validators(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node != nil {
		return s.opts.Node.Validators(), nil
	}
	var out []Validator
	for _, v := range s.chain.Genesis().Validators {
		out = append(out, Validator{Name: v.Name, Address: v.Address, PubKey: hexutil.Bytes(v.PubKey), Stake: hexutil.Uint64(v.Stake)})
	}
	return out, nil
}

func (s *Server) peers(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node == nil {
		return []Peer{}, nil
	}
	return s.opts.Node.Peers(), nil
}

func (s *Server) mempool(context.Context, *wsConn, json.RawMessage) (any, error) {
	return struct {
		Txs    int `json:"txs"`
		Shards any `json:"shards"`
	}{s.pool.Len(), s.pool.Stats()}, nil
}

func (s *Server) blockCertificate(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var ref blockRef
	if e := decodeParams(p, 1, &ref); e != nil {
		return nil, e
	}
	h, err := s.height(ref)
	if err != nil {
		return nil, err
	}
	b, err := s.chain.Block(h)
	if err != nil {
		return nil, err
	}
	decoded, err := s.decodeCertificate(b)
	if err != nil {
		return nil, err
	}
	return struct {
		Number      hexutil.Uint64 `json:"number"`
		Hash        chain.Hash     `json:"hash"`
		Round       hexutil.Uint64 `json:"round"`
		Certificate hexutil.Bytes  `json:"certificate"`
		Decoded     *Certificate   `json:"decoded"`
	}{hexutil.Uint64(h), b.Hash(), hexutil.Uint64(b.Header.Round), append(hexutil.Bytes{}, b.Cert...), decoded}, nil
}

// decodeCertificate decodes a block's certificate; nil without a consensus
// engine or a certificate (genesis).
func (s *Server) decodeCertificate(b *chain.Block) (*Certificate, error) {
	if s.opts.Node == nil || len(b.Cert) == 0 {
		return nil, nil
	}
	c, err := s.opts.Node.Certificate(b.Cert)
	if err != nil {
		return nil, errServer("block %d certificate: %v", b.Header.Height, err)
	}
	return c, nil
}

// MaxRawBlocks bounds the blocks of one bizra_getRawBlocks call.
const MaxRawBlocks = 256

// RawBlock is one entry of bizra_getRawBlocks: a committed block and its
// receipts in the store's canonical encodings (chain/doc.go), and its
// certificate decoded, for indexers that read many blocks.
type RawBlock struct {
	Number      hexutil.Uint64 `json:"number"`
	Block       hexutil.Bytes  `json:"block"`
	Receipts    hexutil.Bytes  `json:"receipts"`
	Certificate *Certificate   `json:"certificate"`
}

// rawBlocks answers up to count committed blocks from height from, fewer
// when the head comes first (none past it).
func (s *Server) rawBlocks(_ context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var from, count hexutil.Uint64
	if e := decodeParams(p, 2, &from, &count); e != nil {
		return nil, e
	}
	if count == 0 || count > MaxRawBlocks {
		return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("count must be from 1 to %d", MaxRawBlocks)}
	}
	head, _ := s.chain.Head()
	out := []RawBlock{}
	for h := uint64(from); h <= head.Height && h < uint64(from)+uint64(count); h++ {
		b, err := s.chain.Block(h)
		if err != nil {
			return nil, err
		}
		rs, err := s.chain.Receipts(h)
		if err != nil {
			return nil, err
		}
		cert, err := s.decodeCertificate(b)
		if err != nil {
			return nil, err
		}
		out = append(out, RawBlock{Number: hexutil.Uint64(h), Block: b.Encode(), Receipts: chain.EncodeReceipts(rs), Certificate: cert})
	}
	return out, nil
}

func (s *Server) consensus(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node == nil {
		return nil, errServer("this server has no consensus engine")
	}
	return s.opts.Node.Consensus(), nil
}
