package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

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
	return hexutil.Uint64(s.peerTotal()), nil
}

// peerTotal is the number of connected peers net_peerCount and bizra_status
// report: the node's list of them.
func (s *Server) peerTotal() int {
	if s.opts.Node == nil {
		return 0
	}
	return len(s.opts.Node.Peers())
}
