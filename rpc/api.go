package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

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

// blockRef is a block parameter: a tag, a number, or (EIP-1898) a hash.
type blockRef struct {
	tag    string
	number uint64
	hash   *chain.Hash
}

func (b *blockRef) UnmarshalJSON(data []byte) error {
	*b = blockRef{} // decoded over a default such as latestRef
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

// hashRef refers to a block by its hash.
func hashRef(h chain.Hash) blockRef { return blockRef{hash: &h} }

// latestRef is the default block parameter.
var latestRef = blockRef{tag: "latest"}

// height resolves a reference to a height on the chain. Blocks commit with
// finality, so safe, finalized and pending all mean the head.
func (s *Server) height(ref blockRef) (uint64, error) {
	head, _ := s.chain.Head()
	return s.heightOn(ref, head.Height)
}

// heightOn resolves a reference against a head the caller read once.
func (s *Server) heightOn(ref blockRef, head uint64) (uint64, error) {
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
		if ref.number > head {
			return 0, &Error{Code: CodeNotFound, Message: fmt.Sprintf("block %d not found (head is %d)", ref.number, head)}
		}
		return ref.number, nil
	}
	return head, nil
}

// stateAt checks that state is asked of the head: the node keeps only the
// latest state. The reference is resolved against the same reading of the
// head it is compared with, so a head tag is the head however far the
// chain moved during the call.
func (s *Server) stateAt(ref blockRef) error {
	head, _ := s.chain.Head()
	h, err := s.heightOn(ref, head.Height)
	if err != nil {
		return err
	}
	if h != head.Height {
		return errServer("state at block %d is not available: this node keeps only the latest state (block %d)", h, head.Height)
	}
	return nil
}
