package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

// Constants of blocks without uncles, logs or proof of work, as Ethereum
// clients expect them.
var (
	emptyUncleHash = types.EmptyUncleHash
	zeroBloom      = hexutil.Bytes(make([]byte, 256))
	zeroNonce      = hexutil.Bytes(make([]byte, 8))
)

// Block is the JSON of a block: the Ethereum fields clients parse, plus
// round and certificate. eth_getBlockByNumber and eth_getBlockByHash answer
// it, and newHeads sends it without transactions and uncles.
type Block struct {
	Number           hexutil.Uint64 `json:"number"`
	Hash             chain.Hash     `json:"hash"`
	ParentHash       chain.Hash     `json:"parentHash"`
	Nonce            hexutil.Bytes  `json:"nonce"`
	MixHash          chain.Hash     `json:"mixHash"`
	Sha3Uncles       chain.Hash     `json:"sha3Uncles"`
	LogsBloom        hexutil.Bytes  `json:"logsBloom"`
	TransactionsRoot chain.Hash     `json:"transactionsRoot"`
	StateRoot        chain.Hash     `json:"stateRoot"`
	ReceiptsRoot     chain.Hash     `json:"receiptsRoot"`
	Miner            chain.Address  `json:"miner"`
	Difficulty       hexutil.Uint64 `json:"difficulty"`
	TotalDifficulty  hexutil.Uint64 `json:"totalDifficulty"`
	ExtraData        hexutil.Bytes  `json:"extraData"`
	Size             hexutil.Uint64 `json:"size"`
	GasLimit         hexutil.Uint64 `json:"gasLimit"`
	GasUsed          hexutil.Uint64 `json:"gasUsed"`
	Timestamp        hexutil.Uint64 `json:"timestamp"` // seconds, as Ethereum has it
	TimestampMs      hexutil.Uint64 `json:"timestampMs"`
	BaseFeePerGas    *hexutil.Big   `json:"baseFeePerGas"`
	// Transactions and Uncles are absent in a header.
	Transactions *BlockTransactions `json:"transactions,omitempty"`
	Uncles       *[]chain.Hash      `json:"uncles,omitempty"`
	Round        hexutil.Uint64     `json:"round"`
	Certificate  hexutil.Bytes      `json:"certificate"`
}

// BlockTransactions are the transactions of a block's JSON: their hashes,
// or, when the block is asked for with full transactions, the objects.
type BlockTransactions struct {
	Hashes []chain.Hash
	Full   []Transaction
}

// MarshalJSON writes the objects when Full is set, otherwise the hashes:
// an array either way, [] for a block without transactions.
func (t BlockTransactions) MarshalJSON() ([]byte, error) {
	switch {
	case t.Full != nil:
		return json.Marshal(t.Full)
	case t.Hashes != nil:
		return json.Marshal(t.Hashes)
	}
	return []byte("[]"), nil
}

// UnmarshalJSON reads either form: objects into Full, anything else into
// Hashes.
func (t *BlockTransactions) UnmarshalJSON(b []byte) error {
	*t = BlockTransactions{}
	if rest := bytes.TrimLeft(b, " \t\r\n"); len(rest) > 0 && rest[0] == '[' {
		if rest = bytes.TrimLeft(rest[1:], " \t\r\n"); len(rest) > 0 && rest[0] == '{' {
			return json.Unmarshal(b, &t.Full)
		}
	}
	return json.Unmarshal(b, &t.Hashes)
}

// Transaction is the JSON of a transaction, committed (with its block and
// index) or pending (with those null).
type Transaction struct {
	BlockHash            *chain.Hash       `json:"blockHash"`
	BlockNumber          *hexutil.Uint64   `json:"blockNumber"`
	TransactionIndex     *hexutil.Uint64   `json:"transactionIndex"`
	Hash                 chain.Hash        `json:"hash"`
	From                 chain.Address     `json:"from"`
	To                   *chain.Address    `json:"to"`
	Nonce                hexutil.Uint64    `json:"nonce"`
	Value                *hexutil.Big      `json:"value"`
	Gas                  hexutil.Uint64    `json:"gas"`
	GasPrice             *hexutil.Big      `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big      `json:"maxFeePerGas,omitempty"`
	MaxPriorityFeePerGas *hexutil.Big      `json:"maxPriorityFeePerGas,omitempty"`
	Input                hexutil.Bytes     `json:"input"`
	Type                 hexutil.Uint64    `json:"type"`
	ChainID              *hexutil.Big      `json:"chainId,omitempty"`
	AccessList           *types.AccessList `json:"accessList,omitempty"`
	V                    *hexutil.Big      `json:"v"`
	R                    *hexutil.Big      `json:"r"`
	S                    *hexutil.Big      `json:"s"`
	YParity              *hexutil.Uint64   `json:"yParity,omitempty"`
}

// Receipt is the JSON of a receipt.
type Receipt struct {
	TransactionHash   chain.Hash     `json:"transactionHash"`
	TransactionIndex  hexutil.Uint64 `json:"transactionIndex"`
	BlockHash         chain.Hash     `json:"blockHash"`
	BlockNumber       hexutil.Uint64 `json:"blockNumber"`
	From              chain.Address  `json:"from"`
	To                *chain.Address `json:"to"`
	CumulativeGasUsed hexutil.Uint64 `json:"cumulativeGasUsed"`
	GasUsed           hexutil.Uint64 `json:"gasUsed"`
	EffectiveGasPrice *hexutil.Big   `json:"effectiveGasPrice"`
	ContractAddress   *chain.Address `json:"contractAddress"`
	Logs              []struct{}     `json:"logs"` // always empty: transfers log nothing
	LogsBloom         hexutil.Bytes  `json:"logsBloom"`
	Type              hexutil.Uint64 `json:"type"`
	Status            hexutil.Uint64 `json:"status"`
}

func bigOf(v *uint256.Int) *hexutil.Big { return (*hexutil.Big)(v.ToBig()) }

// txLocation places a transaction in a block, or nowhere for a pending one.
type txLocation struct {
	blockHash chain.Hash
	height    uint64
	index     uint64
}

// newTransaction builds the JSON of a transaction from its encoding.
func newTransaction(tx *chain.Tx, from chain.Address, loc *txLocation, baseFee *uint256.Int) (*Transaction, error) {
	eth, err := tx.Eth()
	if err != nil {
		return nil, err
	}
	v, r, s := eth.RawSignatureValues()
	out := &Transaction{
		Hash:  tx.Hash,
		From:  from,
		To:    eth.To(),
		Nonce: hexutil.Uint64(tx.Nonce),
		Value: bigOf(&tx.Value),
		Gas:   hexutil.Uint64(tx.Gas),
		Input: hexutil.Bytes{},
		Type:  hexutil.Uint64(tx.Type),
		V:     (*hexutil.Big)(v),
		R:     (*hexutil.Big)(r),
		S:     (*hexutil.Big)(s),
	}
	price := tx.EffectiveGasPrice(baseFee)
	out.GasPrice = bigOf(&price)
	if tx.Type != types.LegacyTxType {
		out.ChainID = (*hexutil.Big)(eth.ChainId())
		al := eth.AccessList()
		if al == nil {
			al = types.AccessList{}
		}
		out.AccessList = &al
		yp := hexutil.Uint64(v.Uint64())
		out.YParity = &yp
	} else if eth.Protected() {
		out.ChainID = (*hexutil.Big)(eth.ChainId())
	}
	if tx.Type == types.DynamicFeeTxType {
		out.MaxFeePerGas = bigOf(&tx.FeeCap)
		out.MaxPriorityFeePerGas = bigOf(&tx.TipCap)
	}
	if loc != nil {
		bh, n, i := loc.blockHash, hexutil.Uint64(loc.height), hexutil.Uint64(loc.index)
		out.BlockHash, out.BlockNumber, out.TransactionIndex = &bh, &n, &i
	} else {
		// A pending transaction's price is what it would pay now.
		out.GasPrice = bigOf(&tx.FeeCap)
	}
	return out, nil
}

// newBlock builds the JSON of a block with its transactions' hashes
// (blockJSON builds the full transactions within the answer's budget).
func newBlock(b *chain.Block, rules *chain.Rules, gasLimit uint64) *Block {
	h := &b.Header
	hash := b.Hash()
	out := &Block{
		Number:           hexutil.Uint64(h.Height),
		Hash:             hash,
		ParentHash:       h.ParentHash,
		Nonce:            zeroNonce,
		Sha3Uncles:       emptyUncleHash,
		LogsBloom:        zeroBloom,
		TransactionsRoot: h.TxRoot,
		StateRoot:        h.StateRoot,
		ReceiptsRoot:     h.ReceiptsRoot,
		Miner:            h.Proposer,
		ExtraData:        hexutil.Bytes{},
		Size:             hexutil.Uint64(b.EncodedSize()),
		GasLimit:         hexutil.Uint64(gasLimit),
		GasUsed:          hexutil.Uint64(h.GasUsed),
		Timestamp:        hexutil.Uint64(h.Timestamp / 1000),
		TimestampMs:      hexutil.Uint64(h.Timestamp),
		BaseFeePerGas:    bigOf(rules.BaseFee()),
		Transactions:     &BlockTransactions{},
		Uncles:           &[]chain.Hash{},
		Round:            hexutil.Uint64(h.Round),
		Certificate:      hexutil.Bytes(b.Cert),
	}
	if out.Certificate == nil {
		out.Certificate = hexutil.Bytes{}
	}
	out.Transactions.Hashes = b.TxHashes()
	return out
}

// parseStored decodes a transaction of a committed block. Its sender comes
// from the receipt, so it is not recovered again.
func parseStored(raw []byte) (*chain.Tx, error) {
	// Committed transactions passed the rules when they were admitted; a
	// later, stricter rule must not make history unreadable, so only the
	// envelope is decoded here.
	var eth types.Transaction
	if err := eth.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("rpc: stored transaction: %w", err)
	}
	tx := &chain.Tx{Hash: eth.Hash(), Type: eth.Type(), Nonce: eth.Nonce(), Gas: eth.Gas(), Raw: raw}
	if to := eth.To(); to != nil {
		tx.To = *to
	}
	tx.Value.SetFromBig(eth.Value())
	tx.FeeCap.SetFromBig(eth.GasFeeCap())
	tx.TipCap.SetFromBig(eth.GasTipCap())
	return tx, nil
}

// newReceipt builds the JSON of a receipt.
func newReceipt(tx *chain.Tx, r *chain.Receipt, loc txLocation) *Receipt {
	to := tx.To
	return &Receipt{
		TransactionHash:   tx.Hash,
		TransactionIndex:  hexutil.Uint64(loc.index),
		BlockHash:         loc.blockHash,
		BlockNumber:       hexutil.Uint64(loc.height),
		From:              r.From,
		To:                &to,
		CumulativeGasUsed: hexutil.Uint64(r.CumulativeGasUsed),
		GasUsed:           hexutil.Uint64(r.GasUsed),
		EffectiveGasPrice: bigOf(&r.EffectiveGasPrice),
		Logs:              []struct{}{},
		LogsBloom:         zeroBloom,
		Type:              hexutil.Uint64(tx.Type),
		Status:            hexutil.Uint64(r.Status),
	}
}

// newHeader is the JSON of a newHeads notification: a block without its
// transactions and uncles, as Ethereum nodes send it.
// size is the block's encoded size.
func newHeader(b *chain.Block, size int, rules *chain.Rules, gasLimit uint64) *Block {
	blk := newBlock(&chain.Block{Header: b.Header, Cert: b.Cert}, rules, gasLimit)
	blk.Size = hexutil.Uint64(size)
	blk.Transactions, blk.Uncles = nil, nil
	return blk
}
