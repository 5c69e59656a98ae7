package codec

import (
	"encoding/binary"
	"fmt"
)

// Decoder reads what an Encoder wrote. Its first error sticks: later reads
// return zero values and Err and Finish report that first error. Every
// error wraps the sentinel given to NewDecoder and names the field.
type Decoder struct {
	b        []byte
	err      error
	sentinel error
}

// NewDecoder returns a decoder of b whose errors wrap sentinel (the
// package's ErrDecode), so that callers can test them with errors.Is.
func NewDecoder(b []byte, sentinel error) Decoder {
	if sentinel == nil {
		panic("codec: NewDecoder without a sentinel error")
	}
	return Decoder{b: b, sentinel: sentinel}
}

// Err returns the first error so far, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.b) }

// Failf records an error about field what, unless one is already recorded:
// callers report the values that decode but break a rule of the format
// (an unknown version or kind) this way, and they read as decode errors.
func (d *Decoder) Failf(what, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", d.sentinel, what, fmt.Sprintf(format, args...))
	}
}

// take returns the next n bytes, aliasing the input with their capacity
// clipped, or nil after an error.
func (d *Decoder) take(what string, n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.short(what, "", n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// short records that field what (with suffix, to name a part of it) needs
// n bytes; it is kept out of take so that take stays small enough to
// inline.
func (d *Decoder) short(what, suffix string, n int) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s%s: need %d bytes, have %d", d.sentinel, what, suffix, n, len(d.b))
	}
}

// U8 reads one byte.
func (d *Decoder) U8(what string) uint8 {
	if v := d.take(what, 1); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian u16.
func (d *Decoder) U16(what string) uint16 {
	if v := d.take(what, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian u32.
func (d *Decoder) U32(what string) uint32 {
	if v := d.take(what, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian u64.
func (d *Decoder) U64(what string) uint64 {
	if v := d.take(what, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Bool reads a presence or flag byte; any value but 0 and 1 is an error,
// so that each value has one encoding.
func (d *Decoder) Bool(what string) bool {
	v := d.take(what, 1)
	if v == nil {
		return false
	}
	if v[0] > 1 {
		d.Failf(what, "flag byte %d, want 0 or 1", v[0])
		return false
	}
	return v[0] == 1
}

// Hash reads a 32-byte hash.
func (d *Decoder) Hash(what string) (h [32]byte) {
	if v := d.take(what, 32); v != nil {
		copy(h[:], v)
	}
	return h
}

// Fixed reads len(dst) bytes into dst: a fixed-size array whose size the
// format knows. After an error dst is cleared.
func (d *Decoder) Fixed(what string, dst []byte) {
	if v := d.take(what, len(dst)); v != nil {
		copy(dst, v)
		return
	}
	clear(dst)
}

// blob reads a u32 length, checks it against limit and the bytes left, and
// returns the string aliasing the input; nil for a zero length or after an
// error.
func (d *Decoder) blob(what string, limit int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < PrefixSize {
		d.short(what, " length", PrefixSize)
		return nil
	}
	n := int64(binary.BigEndian.Uint32(d.b))
	d.b = d.b[PrefixSize:]
	switch {
	case n > int64(limit):
		d.err = fmt.Errorf("%w: %s: length %d exceeds the limit of %d bytes", d.sentinel, what, n, limit)
		return nil
	case n > int64(len(d.b)):
		d.err = fmt.Errorf("%w: %s: length %d exceeds the remaining %d bytes", d.sentinel, what, n, len(d.b))
		return nil
	case n == 0:
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// BlobAlias reads a u32-length-prefixed byte string of at most limit
// bytes. The result aliases the input (with its capacity clipped, so that
// appending to it cannot overwrite what follows): a caller uses it when it
// owns the input and keeps it unchanged as long as the result lives.
func (d *Decoder) BlobAlias(what string, limit int) []byte { return d.blob(what, limit) }

// BlobCopy reads a u32-length-prefixed byte string of at most limit bytes
// into a new slice that shares nothing with the input.
func (d *Decoder) BlobCopy(what string, limit int) []byte {
	v := d.blob(what, limit)
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// Count reads a u32 count of elements that follow, each of which takes at
// least minSize bytes (minSize is at least 1). It fails if the count
// exceeds limit or if count × minSize exceeds the bytes left, so the caller
// may allocate for the count it returns. It returns 0 after an error.
func (d *Decoder) Count(what string, limit, minSize int) int {
	if minSize < 1 {
		panic(fmt.Sprintf("codec: Count of %s with element size %d", what, minSize))
	}
	if d.err != nil {
		return 0
	}
	if len(d.b) < PrefixSize {
		d.short(what, "", PrefixSize)
		return 0
	}
	n := int64(binary.BigEndian.Uint32(d.b))
	d.b = d.b[PrefixSize:]
	switch {
	case n > int64(limit):
		d.err = fmt.Errorf("%w: %s: count %d exceeds the limit of %d", d.sentinel, what, n, limit)
		return 0
	case n > int64(len(d.b)/minSize):
		d.err = fmt.Errorf("%w: %s: count %d of at least %d bytes each exceeds the remaining %d bytes", d.sentinel, what, n, minSize, len(d.b))
		return 0
	}
	return int(n)
}

// Finish returns the first error, or an error naming what was decoded if
// bytes are left over.
func (d *Decoder) Finish(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %s: %d trailing bytes", d.sentinel, what, len(d.b))
	}
	return d.err
}
