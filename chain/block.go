package chain

import (
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/crypto"
)

// HeaderVersion is the only header encoding version this code reads.
const HeaderVersion = 1

// HeaderSize is the length of an encoded header.
const HeaderSize = 1 + 5*8 + 4*32 + 20

// Header is the hashed part of a block. See the package doc for the encoding.
type Header struct {
	ChainID      uint64
	Height       uint64
	Round        uint64
	Timestamp    uint64 // unix milliseconds
	GasUsed      uint64
	ParentHash   Hash
	Proposer     Address
	TxRoot       Hash
	StateRoot    Hash
	ReceiptsRoot Hash
}

// AppendEncode appends the canonical header encoding to dst.
func (h *Header) AppendEncode(dst []byte) []byte {
	e := encoder{buf: dst}
	e.u8(HeaderVersion)
	e.u64(h.ChainID)
	e.u64(h.Height)
	e.u64(h.Round)
	e.u64(h.Timestamp)
	e.u64(h.GasUsed)
	e.hash(h.ParentHash)
	e.addr(h.Proposer)
	e.hash(h.TxRoot)
	e.hash(h.StateRoot)
	e.hash(h.ReceiptsRoot)
	return e.buf
}

// Encode returns the canonical header encoding.
func (h *Header) Encode() []byte { return h.AppendEncode(make([]byte, 0, HeaderSize)) }

// Hash is the block hash: Keccak-256 of the header encoding.
func (h *Header) Hash() Hash {
	var buf [HeaderSize]byte
	return Keccak256(h.AppendEncode(buf[:0]))
}

// DecodeHeader decodes a header encoding; it rejects any other length or an
// unknown version.
func DecodeHeader(b []byte) (*Header, error) {
	d := decoder{b: b}
	h := decodeHeaderFields(&d)
	if err := d.finish("header"); err != nil {
		return nil, err
	}
	return h, nil
}

func decodeHeaderFields(d *decoder) *Header {
	h := new(Header)
	if v := d.u8("header version"); d.err == nil && v != HeaderVersion {
		d.err = fmt.Errorf("%w: header version %d, want %d", ErrDecode, v, HeaderVersion)
	}
	h.ChainID = d.u64("chain id")
	h.Height = d.u64("height")
	h.Round = d.u64("round")
	h.Timestamp = d.u64("timestamp")
	h.GasUsed = d.u64("gas used")
	h.ParentHash = d.hash("parent hash")
	h.Proposer = d.addr("proposer")
	h.TxRoot = d.hash("tx root")
	h.StateRoot = d.hash("state root")
	h.ReceiptsRoot = d.hash("receipts root")
	return h
}

// Block is a header, the transactions it orders, and the quorum certificate
// that certifies its hash. The certificate is opaque here and filled by the
// consensus engine; it is not part of the hash.
type Block struct {
	Header Header
	Txs    [][]byte // Ethereum binary encodings
	Cert   []byte
}

// Hash returns the block hash.
func (b *Block) Hash() Hash { return b.Header.Hash() }

// EncodedSize returns the length of the block encoding.
func (b *Block) EncodedSize() int {
	n := HeaderSize + 4 + 4 + len(b.Cert)
	for _, tx := range b.Txs {
		n += 4 + len(tx)
	}
	return n
}

// Encode returns the canonical block encoding.
func (b *Block) Encode() []byte {
	buf := b.Header.AppendEncode(make([]byte, 0, b.EncodedSize()))
	e := encoder{buf: buf}
	e.u32(uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		e.blob(tx)
	}
	e.blob(b.Cert)
	return e.buf
}

// DecodeBlock decodes a block encoding. Transaction bytes are copied out
// only as slices of one buffer: the block owns a private copy of b. It does
// not decode the transactions themselves; [Chain.Execute] does.
func DecodeBlock(b []byte) (*Block, error) {
	buf := append([]byte(nil), b...)
	d := decoder{b: buf}
	h := decodeHeaderFields(&d)
	n := d.u32("tx count")
	if d.err == nil && uint64(n)*4 > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: tx count %d exceeds remaining %d bytes", ErrDecode, n, len(d.b))
	}
	blk := &Block{Header: *h}
	if n > 0 {
		blk.Txs = make([][]byte, 0, n)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		blk.Txs = append(blk.Txs, d.blob("tx"))
	}
	if cert := d.blob("cert"); len(cert) > 0 {
		blk.Cert = cert
	}
	if err := d.finish("block"); err != nil {
		return nil, err
	}
	return blk, nil
}

// EmptyRoot is the Merkle root of an empty list.
var EmptyRoot = Keccak256(nil)

// MerkleRoot returns the root of the binary Merkle tree over item hashes,
// with leaf and node domain separation (see the package doc).
func MerkleRoot(items []Hash) Hash {
	leaves := make([]Hash, len(items))
	var buf [33]byte
	for i := range items {
		copy(buf[1:], items[i][:])
		leaves[i] = Keccak256(buf[:])
	}
	return merkleFromLeaves(leaves)
}

// merkleFromLeaves folds leaf hashes into a root, reusing the slice.
func merkleFromLeaves(level []Hash) Hash {
	if len(level) == 0 {
		return EmptyRoot
	}
	var buf [65]byte
	buf[0] = 1
	kh := crypto.NewKeccakState()
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			copy(buf[1:33], level[i][:])
			copy(buf[33:], level[i+1][:])
			kh.Reset()
			kh.Write(buf[:])
			var h Hash
			kh.Read(h[:])
			next = append(next, h)
		}
		level = next
	}
	return level[0]
}

// TxHashes returns the hashes of the block's transactions.
func (b *Block) TxHashes() []Hash {
	hs := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		hs[i] = Keccak256(tx)
	}
	return hs
}

// partition returns the height partition of a block, as in the design
// document's block service: one partition per million heights.
func partition(height uint64) uint64 { return height / PartitionSize }

// PartitionSize is the number of heights in one store partition.
const PartitionSize = 1_000_000

// maxTimestamp guards timestamp arithmetic.
const maxTimestamp = math.MaxInt64 / 2
