package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PrefixSize is the size of the u32 length prefix before a byte string, and
// of a u32 count.
const PrefixSize = 4

// Encoder appends fields to a byte slice. The zero value appends to nil.
type Encoder struct{ buf []byte }

// NewEncoder returns an encoder that appends to dst; give dst the capacity
// of the whole encoding to encode without reallocating.
func NewEncoder(dst []byte) Encoder { return Encoder{buf: dst} }

// Bytes returns the encoding so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// U8 appends one byte.
func (e *Encoder) U8(v uint8) { e.buf = append(e.buf, v) }

// U16 appends a big-endian u16.
func (e *Encoder) U16(v uint16) { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }

// U32 appends a big-endian u32.
func (e *Encoder) U32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }

// U64 appends a big-endian u64.
func (e *Encoder) U64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }

// Bool appends a presence or flag byte: 1 for true, 0 for false.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Hash appends a 32-byte hash.
func (e *Encoder) Hash(h [32]byte) { e.buf = append(e.buf, h[:]...) }

// Fixed appends b as it is, without a length: a fixed-size array whose
// size the format knows.
func (e *Encoder) Fixed(b []byte) { e.buf = append(e.buf, b...) }

// Blob appends a u32 length and b. A string longer than a u32 can count is
// a broken invariant of the caller (every format limits its strings far
// below it), and Blob panics on it rather than write a wrong length.
func (e *Encoder) Blob(b []byte) {
	if uint64(len(b)) > math.MaxUint32 {
		panic(fmt.Sprintf("codec: byte string of %d bytes does not fit a u32 length", len(b)))
	}
	e.U32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}
