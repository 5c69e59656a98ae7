package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
)

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
// percentiles, which reads every receipt of every block, is bounded lower,
// and by the receipts read (maxFeeHistoryReceipts: about 26 blocks of
// 20,000 transfers).
const (
	maxFeeHistory         = 1024
	maxFeeHistoryRewards  = 128
	maxFeeHistoryReceipts = 1 << 19
)

// feeHistory reads headers alone unless rewards are asked for, and stops
// once the answer would pass its budget.
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
	// The answer's size, counted as it grows: a base fee and a ratio of at
	// most 24 characters a block, and each reward's quoted hex.
	bud := budgetOf(ctx)
	baseLen := len(base.String()) + 3
	size := 100 + baseLen
	receipts := 0
	for h := first; h <= last; h++ {
		if err := ctx.Err(); err != nil {
			return nil, errServer("request timed out")
		}
		hdr, err := s.chain.Header(h)
		if err != nil {
			return nil, err
		}
		out.BaseFeePerGas = append(out.BaseFeePerGas, base)
		out.GasUsedRatio = append(out.GasUsedRatio, float64(hdr.GasUsed)/gasLimit)
		size += baseLen + 25
		if len(percentiles) > 0 {
			rs, err := s.chain.Receipts(h)
			if err != nil {
				return nil, err
			}
			if receipts += len(rs); receipts > maxFeeHistoryReceipts {
				return nil, &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("eth_feeHistory: reward percentiles over %d blocks would read more than %d receipts; ask for fewer blocks", n, maxFeeHistoryReceipts)}
			}
			rw := s.rewards(rs, percentiles)
			out.Reward = append(out.Reward, rw)
			size += 3
			for _, r := range rw {
				size += len(r.String()) + 3
			}
		}
		if size > bud.left {
			return nil, bud.tooLarge(fmt.Sprintf("ask for fewer blocks or percentiles: %d of the %d blocks fit", h-first, n))
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
