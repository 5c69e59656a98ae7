package chain

import (
	"fmt"

	"github.com/holiman/uint256"

	"github.com/bizra/node0/internal/codec"
)

// Receipt statuses. Only successful transactions enter a block, so every
// stored receipt has ReceiptSuccess; the field exists for Ethereum clients.
const (
	ReceiptFailed  uint8 = 0
	ReceiptSuccess uint8 = 1
)

// ReceiptSize is the length of an encoded receipt.
const ReceiptSize = 1 + 8 + 8 + 32 + 20

// Receipt records the outcome of one transaction in a block.
type Receipt struct {
	Status            uint8
	GasUsed           uint64
	CumulativeGasUsed uint64
	EffectiveGasPrice uint256.Int
	From              Address // recovered sender, kept so readers need not recover it again
}

// AppendEncode appends the canonical receipt encoding.
func (r *Receipt) AppendEncode(dst []byte) []byte {
	e := codec.NewEncoder(dst)
	e.U8(r.Status)
	e.U64(r.GasUsed)
	e.U64(r.CumulativeGasUsed)
	price := r.EffectiveGasPrice.Bytes32()
	e.Fixed(price[:])
	e.Fixed(r.From[:])
	return e.Bytes()
}

func decodeReceiptFields(d *codec.Decoder, r *Receipt) {
	r.Status = d.U8("receipt status")
	r.GasUsed = d.U64("receipt gas used")
	r.CumulativeGasUsed = d.U64("receipt cumulative gas")
	var price [32]byte
	d.Fixed("receipt effective gas price", price[:])
	r.EffectiveGasPrice.SetBytes32(price[:])
	d.Fixed("receipt sender", r.From[:])
}

// EncodeReceipts concatenates receipt encodings, as stored per block.
func EncodeReceipts(rs []Receipt) []byte {
	buf := make([]byte, 0, len(rs)*ReceiptSize)
	for i := range rs {
		buf = rs[i].AppendEncode(buf)
	}
	return buf
}

// DecodeReceipts decodes what EncodeReceipts wrote.
func DecodeReceipts(b []byte) ([]Receipt, error) {
	if len(b)%ReceiptSize != 0 {
		return nil, fmt.Errorf("%w: receipts length %d is not a multiple of %d", ErrDecode, len(b), ReceiptSize)
	}
	rs := make([]Receipt, len(b)/ReceiptSize)
	d := codec.NewDecoder(b, ErrDecode)
	for i := range rs {
		decodeReceiptFields(&d, &rs[i])
	}
	return rs, d.Finish("receipts")
}

// ReceiptsRoot returns the Merkle root over the receipts: each leaf is
// keccak(0x00 || receipt encoding).
func ReceiptsRoot(rs []Receipt) Hash {
	leaves := make([]Hash, len(rs))
	buf := make([]byte, 1, 1+ReceiptSize)
	for i := range rs {
		leaves[i] = Keccak256(rs[i].AppendEncode(buf[:1]))
	}
	return merkleFromLeaves(leaves)
}
