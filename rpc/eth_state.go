package rpc

import (
	"context"
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

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

// callArgs are the arguments of eth_call and eth_estimateGas: the fields of
// a transaction request, every one optional. A transfer reads only from,
// to, value and data (or input); the others are decoded to check their form.
// The fields carry no tags: encoding/json matches the request's camelCase
// names (gasPrice, chainId, …) to them regardless of case.
type callArgs struct {
	From, To                                                     *chain.Address
	Value, GasPrice, MaxFeePerGas, MaxPriorityFeePerGas, ChainID *hexutil.Big
	Gas, Nonce, Type                                             *hexutil.Uint64
	Data, Input                                                  *hexutil.Bytes
	AccessList                                                   json.RawMessage
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
