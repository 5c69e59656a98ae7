package chain

import (
	"math"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/internal/codec"
)

// HeaderVersion is the only header encoding version this code reads.
const HeaderVersion = 1

// HeaderSize is the length of an encoded header.
const HeaderSize = 1 + 5*8 + 4*32 + 20

// MaxValidators is the largest validator set a genesis may hold: the set
// whose certificates a block carries (MaxCertBytes).
const MaxValidators = 1 << 20

// MaxCertBytes bounds the certificate of a block: the encoding of a
// consensus precommit certificate with a signer bitmap of MaxValidators
// validators (131,072 bytes), a signature of up to 256 bytes and 57 bytes
// of fixed fields (type u8, height u64, round u64, block hash [32], two
// u32 lengths). Package consensus checks at compile time that its largest
// certificate is exactly this size.
const MaxCertBytes = 57 + MaxValidators/8 + 256

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
	e := codec.NewEncoder(dst)
	e.U8(HeaderVersion)
	e.U64(h.ChainID)
	e.U64(h.Height)
	e.U64(h.Round)
	e.U64(h.Timestamp)
	e.U64(h.GasUsed)
	e.Hash(h.ParentHash)
	e.Fixed(h.Proposer[:])
	e.Hash(h.TxRoot)
	e.Hash(h.StateRoot)
	e.Hash(h.ReceiptsRoot)
	return e.Bytes()
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
	d := codec.NewDecoder(b, ErrDecode)
	h := new(Header)
	decodeHeaderFields(&d, h)
	if err := d.Finish("header"); err != nil {
		return nil, err
	}
	return h, nil
}

func decodeHeaderFields(d *codec.Decoder, h *Header) {
	if v := d.U8("header version"); d.Err() == nil && v != HeaderVersion {
		d.Failf("header version", "%d, want %d", v, HeaderVersion)
	}
	h.ChainID = d.U64("chain id")
	h.Height = d.U64("height")
	h.Round = d.U64("round")
	h.Timestamp = d.U64("timestamp")
	h.GasUsed = d.U64("gas used")
	h.ParentHash = d.Hash("parent hash")
	d.Fixed("proposer", h.Proposer[:])
	h.TxRoot = d.Hash("tx root")
	h.StateRoot = d.Hash("state root")
	h.ReceiptsRoot = d.Hash("receipts root")
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
	n := HeaderSize + codec.PrefixSize + codec.PrefixSize + len(b.Cert)
	for _, tx := range b.Txs {
		n += codec.PrefixSize + len(tx)
	}
	return n
}

// Encode returns the canonical block encoding.
func (b *Block) Encode() []byte {
	e := codec.NewEncoder(b.Header.AppendEncode(make([]byte, 0, b.EncodedSize())))
	e.U32(uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		e.Blob(tx)
	}
	e.Blob(b.Cert)
	return e.Bytes()
}

// DecodeBlock decodes a block encoding within the limits of the package
// doc. The block owns a private copy of b, and its transactions and
// certificate are slices of that one copy. It does not decode the
// transactions themselves; [Chain.Execute] does.
func DecodeBlock(b []byte) (*Block, error) {
	d := codec.NewDecoder(append([]byte(nil), b...), ErrDecode)
	blk := new(Block)
	decodeHeaderFields(&d, &blk.Header)
	if n := d.Count("tx count", MaxBlockTxsLimit, codec.PrefixSize); n > 0 {
		blk.Txs = make([][]byte, n)
		for i := range blk.Txs {
			blk.Txs[i] = d.BlobAlias("tx", MaxMaxTxBytes)
		}
	}
	blk.Cert = d.BlobAlias("cert", MaxCertBytes)
	if err := d.Finish("block"); err != nil {
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
