package codec_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/bizra/node0/internal/codec"
)

// A program drives the fuzzer: each of its bytes picks a read (the byte
// modulo opCount) and, for byte strings and counts, a limit (the byte
// divided by opCount). The same program then re-encodes what was read.
const (
	opU8 = iota
	opU16
	opU32
	opU64
	opBool
	opHash
	opFixed
	opAlias
	opCopy
	opCount // a count of u16 elements, each read as its own op
	numOps
)

// read is one value read by a program.
type read struct {
	op   int
	v    any
	blob []byte // the bytes of an alias or copy, saved when read
}

// run decodes in with program and checks that nothing is read after the
// first error. It returns the values and the error of Finish.
func run(t *testing.T, program, in []byte) ([]read, error) {
	d := codec.NewDecoder(in, errTest)
	var out []read
	left := len(in)
	pending := 0 // u16 elements announced by the last count
	for _, p := range program {
		op, limit := int(p)%numOps, int(p)/numOps
		if pending > 0 {
			op, pending = opU16, pending-1
		}
		failed := d.Err() != nil
		r := read{op: op}
		switch op {
		case opU8:
			r.v = d.U8("u8")
		case opU16:
			r.v = d.U16("u16")
		case opU32:
			r.v = d.U32("u32")
		case opU64:
			r.v = d.U64("u64")
		case opBool:
			r.v = d.Bool("bool")
		case opHash:
			r.v = d.Hash("hash")
		case opFixed:
			a := [5]byte{1, 2, 3, 4, 5}
			d.Fixed("fixed", a[:])
			r.v = a
		case opAlias:
			b := d.BlobAlias("alias", limit)
			if len(b) > limit || (b != nil && len(b) == 0) || cap(b) != len(b) {
				t.Fatalf("BlobAlias returned %d bytes (capacity %d) for limit %d", len(b), cap(b), limit)
			}
			r.v, r.blob = b, bytes.Clone(b)
		case opCopy:
			b := d.BlobCopy("copy", limit)
			if len(b) > limit || (b != nil && len(b) == 0) {
				t.Fatalf("BlobCopy returned %d bytes for limit %d", len(b), limit)
			}
			r.v, r.blob = b, bytes.Clone(b)
		case opCount:
			n := d.Count("count", limit, 2)
			if n > limit || 2*n > d.Len() {
				t.Fatalf("Count returned %d for limit %d with %d bytes left", n, limit, d.Len())
			}
			r.v, pending = n, n
		}
		if failed && !reflect.ValueOf(r.v).IsZero() {
			t.Fatalf("read %d after an error returned %#v", op, r.v)
		}
		if d.Len() > left {
			t.Fatalf("Len grew from %d to %d", left, d.Len())
		}
		left = d.Len()
		out = append(out, r)
	}
	return out, d.Finish("program")
}

// encode writes what run read, with the same program.
func encode(reads []read) []byte {
	e := codec.NewEncoder(nil)
	for _, r := range reads {
		switch r.op {
		case opU8:
			e.U8(r.v.(uint8))
		case opU16:
			e.U16(r.v.(uint16))
		case opU32:
			e.U32(r.v.(uint32))
		case opU64:
			e.U64(r.v.(uint64))
		case opBool:
			e.Bool(r.v.(bool))
		case opHash:
			e.Hash(r.v.([32]byte))
		case opFixed:
			a := r.v.([5]byte)
			e.Fixed(a[:])
		case opAlias, opCopy:
			e.Blob(r.v.([]byte))
		case opCount:
			e.U32(uint32(r.v.(int)))
		}
	}
	return e.Bytes()
}

// FuzzDecoder checks that a decode either fails with the sentinel or reads
// the one encoding of its values: re-encoding gives back the input. It
// checks that BlobAlias results alias the input and BlobCopy results do
// not, by changing the input after the decode.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{opU8, opU16, opU32, opU64, opBool, opHash, opFixed, opAlias + 5*numOps, opCopy + 5*numOps, opCount + 2*numOps, opU16, opU16},
		encodeLayoutForFuzz())
	f.Add([]byte{opAlias + 3*numOps}, []byte{0, 0, 0, 4, 'a', 'b', 'c', 'd'})
	f.Add([]byte{opCount + numOps}, []byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{}, []byte{0})
	f.Fuzz(func(t *testing.T, program, in []byte) {
		in = bytes.Clone(in)
		reads, err := run(t, program, in)
		if err != nil {
			if !errors.Is(err, errTest) {
				t.Fatalf("error %v does not wrap the sentinel", err)
			}
			return
		}
		if enc := encode(reads); !bytes.Equal(enc, in) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", in, enc)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		for _, r := range reads {
			b, _ := r.v.([]byte)
			for i := range b {
				changed := b[i] != r.blob[i]
				if r.op == opAlias && !changed {
					t.Fatal("a BlobAlias result does not alias the input")
				}
				if r.op == opCopy && changed {
					t.Fatal("a BlobCopy result aliases the input")
				}
			}
		}
	})
}

func encodeLayoutForFuzz() []byte {
	e := codec.NewEncoder(nil)
	e.U8(1)
	e.U16(2)
	e.U32(3)
	e.U64(4)
	e.Bool(true)
	e.Hash([32]byte{5})
	e.Fixed([]byte{6, 6, 6, 6, 6})
	e.Blob([]byte("alias"))
	e.Blob([]byte("copy"))
	e.U32(2)
	e.U16(7)
	e.U16(8)
	return e.Bytes()
}
