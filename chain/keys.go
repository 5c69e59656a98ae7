package chain

import "encoding/binary"

// The store's key layout, in one place. The package doc draws it.
const (
	prefixMeta     = 'm'
	prefixBlock    = 'b'
	prefixReceipts = 'r'
	prefixHash     = 'H'
	prefixTx       = 't'
	prefixAccount  = 'a'
	prefixAux      = 'c'
)

var (
	keyHead    = []byte("mhead")
	keyGenesis = []byte("mgenesis")
	keyLattice = []byte("mlattice")
)

// heightKey is prefix, partition, height: 17 bytes.
func heightKey(prefix byte, height uint64) []byte {
	k := make([]byte, 17)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], partition(height))
	binary.BigEndian.PutUint64(k[9:], height)
	return k
}

func blockKey(height uint64) []byte    { return heightKey(prefixBlock, height) }
func receiptsKey(height uint64) []byte { return heightKey(prefixReceipts, height) }

// KeyRange is a half-open key range [Lo, Hi).
type KeyRange struct{ Lo, Hi []byte }

// PartitionRanges returns the two key ranges holding one height partition:
// its blocks and its receipts. Each can be deleted or copied with one range
// operation. The hash and transaction indexes are keyed by hash, not by
// height, so whoever prunes a partition must also delete the index entries
// of its blocks and transactions (found by reading the blocks first).
func PartitionRanges(part uint64) (blocks, receipts KeyRange) {
	r := func(prefix byte) KeyRange {
		lo := make([]byte, 9)
		lo[0] = prefix
		binary.BigEndian.PutUint64(lo[1:], part)
		hi := make([]byte, 9)
		hi[0] = prefix
		binary.BigEndian.PutUint64(hi[1:], part+1)
		return KeyRange{lo, hi}
	}
	return r(prefixBlock), r(prefixReceipts)
}

// auxKey is the auxiliary table's prefix and a name its owner chooses.
func auxKey(name []byte) []byte { return append([]byte{prefixAux}, name...) }

func hashKey(h Hash) []byte {
	k := make([]byte, 33)
	k[0] = prefixHash
	copy(k[1:], h[:])
	return k
}

func appendTxKey(dst []byte, h Hash) []byte {
	dst = append(dst, prefixTx)
	return append(dst, h[:]...)
}

func appendAccountKey(dst []byte, a Address) []byte {
	dst = append(dst, prefixAccount)
	return append(dst, a[:]...)
}

func u64Bytes(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// txLocation is the value of a transaction index entry.
func txLocation(height uint64, index uint32) []byte {
	v := make([]byte, 12)
	binary.BigEndian.PutUint64(v, height)
	binary.BigEndian.PutUint32(v[8:], index)
	return v
}
