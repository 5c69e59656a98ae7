package chain

import (
	"encoding/binary"
	"fmt"

	"github.com/holiman/uint256"
)

// encoder appends fixed-width big-endian fields; see the package doc for the
// layouts built with it.
type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) hash(h Hash)  { e.buf = append(e.buf, h[:]...) }
func (e *encoder) addr(a Address) {
	e.buf = append(e.buf, a[:]...)
}
func (e *encoder) u256(v *uint256.Int) {
	b := v.Bytes32()
	e.buf = append(e.buf, b[:]...)
}

// blob writes a u32 length prefix and the bytes.
func (e *encoder) blob(b []byte) {
	e.u32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, and err reports the first failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = fmt.Errorf("%w: %s: need %d bytes, have %d", ErrDecode, what, n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) uint8 {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) hash(what string) (h Hash) {
	copy(h[:], d.take(32, what))
	return h
}

func (d *decoder) addr(what string) (a Address) {
	copy(a[:], d.take(20, what))
	return a
}

func (d *decoder) u256(what string) (v uint256.Int) {
	if b := d.take(32, what); b != nil {
		v.SetBytes32(b)
	}
	return v
}

// blob reads a u32 length prefix and that many bytes. The returned slice
// aliases the input.
func (d *decoder) blob(what string) []byte {
	n := d.u32(what + " length")
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %s: length %d exceeds remaining %d bytes", ErrDecode, what, n, len(d.b))
		return nil
	}
	return d.take(int(n), what)
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish(what string) error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrDecode, what, len(d.b))
	}
	return nil
}
