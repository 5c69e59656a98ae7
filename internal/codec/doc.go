// Package codec is the binary encoding shared by the chain and consensus
// encodings: big-endian fixed-width integers, fixed-size byte arrays (hashes,
// addresses) and byte strings prefixed with a u32 length.
//
// It owns the mechanics only. The layouts, the sentinel error a decode
// failure wraps and the size limit of every byte string belong to the
// package that defines an encoding (chain, consensus), which writes them
// down next to its format. It imports no other package of this module, so
// that every package may import it; it keeps no state between calls and
// starts no goroutines.
//
// # Using it
//
//	e := codec.NewEncoder(make([]byte, 0, size))
//	e.U8(version)
//	e.U64(height)
//	e.Blob(payload)
//	out := e.Bytes()
//
//	d := codec.NewDecoder(out, ErrDecode)
//	version := d.U8("version")
//	height := d.U64("height")
//	payload := d.BlobCopy("payload", maxPayloadBytes)
//	if err := d.Finish("message"); err != nil {
//		return err // wraps ErrDecode and names the field that failed
//	}
//
// The decoder's first error sticks: every later read returns a zero value
// (nil for byte strings, 0 for counts), so a decode function reads all its
// fields and checks once, at Finish, which also rejects trailing bytes.
// Every length-prefixed read takes a limit and there is no unbounded
// variant; a count of elements is checked against a limit and against the
// bytes left (count × the smallest encoding of an element) before the
// caller allocates for it. Byte strings come back either aliasing the input
// (BlobAlias, for callers that own the input buffer and want no copy) or
// copied (BlobCopy); a zero-length string is nil either way.
package codec
