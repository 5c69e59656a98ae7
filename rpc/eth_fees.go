package rpc

import (
	"context"
	"encoding/json"
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
