package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

func (s *Server) status(context.Context, *wsConn, json.RawMessage) (any, error) {
	var st Status
	if s.opts.Node != nil {
		st = s.opts.Node.Status()
	} else {
		head, hash := s.chain.Head()
		g := s.chain.Genesis()
		st = Status{ChainID: hexutil.Uint64(g.ChainID), Height: hexutil.Uint64(head.Height), Head: hash, Round: hexutil.Uint64(head.Round), Version: s.opts.ClientVersion, LastCertificate: hexutil.Bytes{}}
	}
	sync := s.sync()
	st.GenesisHash = s.genesisHash
	st.Syncing, st.HighestBlock, st.Peers = sync.Syncing, hexutil.Uint64(sync.HighestBlock), s.peerTotal()
	return st, nil
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
	return BlockCertificate{Number: hexutil.Uint64(h), Hash: b.Hash(), Round: hexutil.Uint64(b.Header.Round),
		Certificate: append(hexutil.Bytes{}, b.Cert...), Decoded: decoded}, nil
}

// BlockCertificate is the answer of bizra_getBlockCertificate: a block's
// certificate as stored and decoded (nil without a consensus engine, and
// for the genesis block, which has none).
type BlockCertificate struct {
	Number      hexutil.Uint64 `json:"number"`
	Hash        chain.Hash     `json:"hash"`
	Round       hexutil.Uint64 `json:"round"`
	Certificate hexutil.Bytes  `json:"certificate"`
	Decoded     *Certificate   `json:"decoded"`
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
// when the head comes first (none past it). It reads no further than the
// answer's budget: blocks that do not fit refuse the call.
func (s *Server) rawBlocks(ctx context.Context, _ *wsConn, p json.RawMessage) (any, error) {
	var from, count hexutil.Uint64
	if e := decodeParams(p, 2, &from, &count); e != nil {
		return nil, e
	}
	if count == 0 || count > MaxRawBlocks {
		return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("count must be from 1 to %d", MaxRawBlocks)}
	}
	head, _ := s.chain.Head()
	bud := budgetOf(ctx)
	out := newArray(bud)
	for h := uint64(from); h <= head.Height && h < uint64(from)+uint64(count); h++ {
		b, rs, err := s.readBlock(h, false)
		if err != nil {
			return nil, err
		}
		cert, err := s.decodeCertificate(b)
		if err != nil {
			return nil, err
		}
		ok, err := out.add(RawBlock{Number: hexutil.Uint64(h), Block: b.Encode(), Receipts: chain.EncodeReceipts(rs), Certificate: cert})
		if err != nil {
			return nil, err
		}
		if !ok {
			if out.n == 0 {
				return nil, bud.tooLarge(fmt.Sprintf("block %d alone does not fit: read it with eth_getBlockByNumber and eth_getBlockReceipts, or raise the limit", h))
			}
			return nil, bud.tooLarge(fmt.Sprintf("ask for fewer blocks: the first %d of the %d asked for fit", out.n, count))
		}
	}
	return out.done(), nil
}

func (s *Server) consensus(context.Context, *wsConn, json.RawMessage) (any, error) {
	if s.opts.Node == nil {
		return nil, errServer("this server has no consensus engine")
	}
	return s.opts.Node.Consensus(), nil
}
