package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/bizra/node0/internal/codec"
)

var (
	errTest  = errors.New("test: malformed encoding")
	errOther = errors.New("other: malformed encoding")
)

// field is one field of a sample layout: how to write its sample value, how
// to read it back, and what a read returns after an error. A field decodes
// when need bytes are left at its start: its size, or for a count its size
// and that of the elements it announces.
type field struct {
	name string
	size int
	need int
	enc  func(e *codec.Encoder)
	dec  func(d *codec.Decoder) any
	want any
	zero any
}

var (
	sampleHash  = [32]byte{0: 0xc0, 31: 0xc1}
	sampleFixed = [20]byte{0: 0xd0, 19: 0xd1}
)

// layout has a field of every kind, each name unique and no name part of
// another, so that an error names exactly one of them.
func layout() []field {
	return []field{
		{"version u8", 1, 1, func(e *codec.Encoder) { e.U8(0xa1) }, func(d *codec.Decoder) any { return d.U8("version u8") }, uint8(0xa1), uint8(0)},
		{"port u16", 2, 2, func(e *codec.Encoder) { e.U16(0xb2b3) }, func(d *codec.Decoder) any { return d.U16("port u16") }, uint16(0xb2b3), uint16(0)},
		{"sender u32", 4, 4, func(e *codec.Encoder) { e.U32(0xc4c5c6c7) }, func(d *codec.Decoder) any { return d.U32("sender u32") }, uint32(0xc4c5c6c7), uint32(0)},
		{"height u64", 8, 8, func(e *codec.Encoder) { e.U64(math.MaxUint64 - 1) }, func(d *codec.Decoder) any { return d.U64("height u64") }, uint64(math.MaxUint64 - 1), uint64(0)},
		{"presence flag", 1, 1, func(e *codec.Encoder) { e.Bool(true) }, func(d *codec.Decoder) any { return d.Bool("presence flag") }, true, false},
		{"parent hash", 32, 32, func(e *codec.Encoder) { e.Hash(sampleHash) }, func(d *codec.Decoder) any { return d.Hash("parent hash") }, sampleHash, [32]byte{}},
		{"proposer address", 20, 20, func(e *codec.Encoder) { e.Fixed(sampleFixed[:]) }, func(d *codec.Decoder) any {
			a := [20]byte{0xff} // Fixed must overwrite it, or clear it after an error
			d.Fixed("proposer address", a[:])
			return a
		}, sampleFixed, [20]byte{}},
		{"aliased payload", 4 + 5, 4 + 5, func(e *codec.Encoder) { e.Blob([]byte("alias")) }, func(d *codec.Decoder) any { return d.BlobAlias("aliased payload", 5) }, []byte("alias"), []byte(nil)},
		{"copied signature", 4 + 4, 4 + 4, func(e *codec.Encoder) { e.Blob([]byte("copy")) }, func(d *codec.Decoder) any { return d.BlobCopy("copied signature", 64) }, []byte("copy"), []byte(nil)},
		{"empty certificate", 4, 4, func(e *codec.Encoder) { e.Blob(nil) }, func(d *codec.Decoder) any { return d.BlobCopy("empty certificate", 0) }, []byte(nil), []byte(nil)},
		{"record count", 4, 4 + 2*2, func(e *codec.Encoder) { e.U32(2) }, func(d *codec.Decoder) any { return d.Count("record count", 2, 2) }, 2, 0},
		{"first record", 2, 2, func(e *codec.Encoder) { e.U16(1) }, func(d *codec.Decoder) any { return d.U16("first record") }, uint16(1), uint16(0)},
		{"second record", 2, 2, func(e *codec.Encoder) { e.U16(2) }, func(d *codec.Decoder) any { return d.U16("second record") }, uint16(2), uint16(0)},
	}
}

func encodeLayout(fs []field) []byte {
	e := codec.NewEncoder(nil)
	for _, f := range fs {
		f.enc(&e)
	}
	return e.Bytes()
}

func TestEncoding(t *testing.T) {
	got := hex.EncodeToString(encodeLayout(layout()))
	want := "a1" + "b2b3" + "c4c5c6c7" + "fffffffffffffffe" + "01" +
		"c0" + strings.Repeat("00", 30) + "c1" +
		"d0" + strings.Repeat("00", 18) + "d1" +
		"00000005" + hex.EncodeToString([]byte("alias")) +
		"00000004" + hex.EncodeToString([]byte("copy")) +
		"00000000" + "00000002" + "0001" + "0002"
	if got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	size := 0
	for _, f := range layout() {
		size += f.size
	}
	if len(got) != 2*size {
		t.Fatalf("encoding of %d bytes, fields add up to %d", len(got)/2, size)
	}
	e := codec.NewEncoder([]byte{0x99})
	e.Bool(false)
	if !bytes.Equal(e.Bytes(), []byte{0x99, 0}) {
		t.Fatalf("NewEncoder does not append to dst: %x", e.Bytes())
	}
}

func TestRoundTrip(t *testing.T) {
	fs := layout()
	d := codec.NewDecoder(encodeLayout(fs), errTest)
	for _, f := range fs {
		if got := f.dec(&d); !reflect.DeepEqual(got, f.want) {
			t.Errorf("%s: got %#v, want %#v", f.name, got, f.want)
		}
	}
	if err := d.Finish("layout"); err != nil {
		t.Fatal(err)
	}
}

// TestTruncation cuts the layout at every byte: the fields wholly before
// the cut decode, the one it falls in fails with an error naming it, and
// every later read returns its zero value.
func TestTruncation(t *testing.T) {
	fs := layout()
	enc := encodeLayout(fs)
	for cut := range len(enc) {
		d := codec.NewDecoder(enc[:cut], errTest)
		start := 0
		failed := ""
		for _, f := range fs {
			got := f.dec(&d)
			fits := failed == "" && start+f.need <= cut
			start += f.size
			switch {
			case fits:
				if !reflect.DeepEqual(got, f.want) {
					t.Fatalf("cut at %d: %s before the cut: got %#v, want %#v", cut, f.name, got, f.want)
				}
			case failed == "":
				failed = f.name
				fallthrough
			default:
				if !reflect.DeepEqual(got, f.zero) {
					t.Fatalf("cut at %d: %s after the cut: got %#v, want the zero value %#v", cut, f.name, got, f.zero)
				}
			}
		}
		err := d.Finish("layout")
		if !errors.Is(err, errTest) || errors.Is(err, errOther) {
			t.Fatalf("cut at %d: error %v does not wrap exactly its sentinel", cut, err)
		}
		if !strings.Contains(err.Error(), failed) {
			t.Fatalf("cut at %d: error %q does not name %s", cut, err, failed)
		}
		for _, f := range fs {
			if f.name != failed && strings.Contains(err.Error(), f.name) {
				t.Fatalf("cut at %d: error %q names %s, not only %s", cut, err, f.name, failed)
			}
		}
		if d.Err() != err {
			t.Fatalf("cut at %d: Err %v differs from Finish %v", cut, d.Err(), err)
		}
	}
}

// step is a read in a decode case; it returns the value read.
type step func(d *codec.Decoder) any

func u32s(vs ...uint32) []byte {
	e := codec.NewEncoder(nil)
	for _, v := range vs {
		e.U32(v)
	}
	return e.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeCases(t *testing.T) {
	blobAlias := func(limit int) step {
		return func(d *codec.Decoder) any { return d.BlobAlias("blob", limit) }
	}
	blobCopy := func(limit int) step {
		return func(d *codec.Decoder) any { return d.BlobCopy("blob", limit) }
	}
	count := func(limit, minSize int) step {
		return func(d *codec.Decoder) any { return d.Count("count", limit, minSize) }
	}
	u8 := func(d *codec.Decoder) any { return d.U8("byte") }
	flag := func(d *codec.Decoder) any { return d.Bool("flag") }
	tests := []struct {
		name  string
		in    []byte
		steps []step
		want  []any  // values read, when the decode succeeds
		err   string // part of the error message, when it fails
	}{
		{"empty input, no fields", nil, nil, []any{}, ""},
		{"empty input, one byte", nil, []step{u8}, nil, "byte: need 1 bytes, have 0"},
		{"trailing bytes", []byte{1, 2, 3}, []step{u8}, nil, "case: 2 trailing bytes"},
		{"flag 0", []byte{0}, []step{flag}, []any{false}, ""},
		{"flag 1", []byte{1}, []step{flag}, []any{true}, ""},
		{"flag 2", []byte{2}, []step{flag}, nil, "flag: flag byte 2, want 0 or 1"},

		{"blob at the limit", cat(u32s(3), []byte("abc")), []step{blobAlias(3)}, []any{[]byte("abc")}, ""},
		{"blob over the limit", cat(u32s(4), []byte("abcd")), []step{blobAlias(3)}, nil, "blob: length 4 exceeds the limit of 3 bytes"},
		{"copied blob over the limit", cat(u32s(4), []byte("abcd")), []step{blobCopy(3)}, nil, "blob: length 4 exceeds the limit of 3 bytes"},
		{"blob over the input", cat(u32s(5), []byte("abcd")), []step{blobCopy(100)}, nil, "blob: length 5 exceeds the remaining 4 bytes"},
		{"blob length 2^32-1", u32s(math.MaxUint32), []step{blobAlias(math.MaxInt)}, nil, "blob: length 4294967295 exceeds the remaining 0 bytes"},
		{"blob length cut short", []byte{0, 0, 1}, []step{blobAlias(10)}, nil, "blob length: need 4 bytes, have 3"},
		{"zero-length blob is nil (alias)", u32s(0), []step{blobAlias(10)}, []any{[]byte(nil)}, ""},
		{"zero-length blob is nil (copy)", u32s(0), []step{blobCopy(10)}, []any{[]byte(nil)}, ""},
		{"zero-length blob with limit 0", u32s(0), []step{blobCopy(0)}, []any{[]byte(nil)}, ""},
		{"one byte with limit 0", cat(u32s(1), []byte{7}), []step{blobCopy(0)}, nil, "blob: length 1 exceeds the limit of 0 bytes"},
		{"limit checked before the input", u32s(math.MaxUint32), []step{blobAlias(1 << 20)}, nil, "exceeds the limit of 1048576 bytes"},

		{"count that fits exactly", cat(u32s(2), make([]byte, 6)), []step{count(2, 3), u8, u8, u8, u8, u8, u8}, []any{2, uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0)}, ""},
		{"count zero", u32s(0), []step{count(0, 100)}, []any{0}, ""},
		{"count over the limit", cat(u32s(3), make([]byte, 30)), []step{count(2, 1)}, nil, "count: count 3 exceeds the limit of 2"},
		{"count over the input", cat(u32s(3), make([]byte, 8)), []step{count(10, 3)}, nil, "count: count 3 of at least 3 bytes each exceeds the remaining 8 bytes"},
		{"count 2^32-1 of large elements", u32s(math.MaxUint32), []step{count(math.MaxInt, math.MaxInt)}, nil, "exceeds the remaining 0 bytes"},
		{"count of one huge element", cat(u32s(1), make([]byte, 8)), []step{count(1, math.MaxInt)}, nil, "exceeds the remaining 8 bytes"},
		{"count cut short", []byte{0, 0}, []step{count(1, 1)}, nil, "count: need 4 bytes, have 2"},

		{"first error sticks", []byte{5}, []step{u8, blobAlias(1), u8, count(1, 1)}, nil, "blob length: need 4 bytes, have 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := codec.NewDecoder(tt.in, errTest)
			got := []any{}
			for _, s := range tt.steps {
				got = append(got, s(&d))
			}
			err := d.Finish("case")
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %#v, want %#v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, errTest) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v; want one wrapping %v containing %q", err, errTest, tt.err)
			}
			if !strings.HasPrefix(err.Error(), errTest.Error()+": ") {
				t.Fatalf("error %q does not start with its sentinel", err)
			}
		})
	}
}

func TestFailfSticks(t *testing.T) {
	d := codec.NewDecoder([]byte{1, 2}, errTest)
	if v := d.U8("version"); v != 1 {
		t.Fatalf("version %d", v)
	}
	d.Failf("version", "%d, want %d", 1, 2)
	d.Failf("kind", "unknown")
	if v := d.U8("kind"); v != 0 {
		t.Fatalf("read after Failf returned %d, want 0", v)
	}
	err := d.Finish("message")
	if !errors.Is(err, errTest) || err.Error() != "test: malformed encoding: version: 1, want 2" {
		t.Fatalf("error %q", err)
	}
	if d.Len() != 1 {
		t.Fatalf("Len %d after an error, want the 1 byte left unread", d.Len())
	}
}

func TestAliasAndCopy(t *testing.T) {
	in := cat(u32s(3), []byte("abc"), u32s(3), []byte("xyz"), []byte{0xee})
	d := codec.NewDecoder(in, errTest)
	alias := d.BlobAlias("aliased", 3)
	copied := d.BlobCopy("copied", 3)
	if d.Len() != 1 {
		t.Fatalf("Len %d, want 1", d.Len())
	}
	in[4], in[11] = 'A', 'X'
	if string(alias) != "Abc" {
		t.Errorf("BlobAlias result %q does not alias the input", alias)
	}
	if string(copied) != "xyz" {
		t.Errorf("BlobCopy result %q aliases the input", copied)
	}
	if cap(alias) != len(alias) {
		t.Errorf("aliased slice has capacity %d beyond its length %d", cap(alias), len(alias))
	}
	_ = append(alias, '!')
	if in[7] != 0 {
		t.Error("appending to an aliased string overwrote the input")
	}
}

func TestBroken(t *testing.T) {
	for name, fn := range map[string]func(){
		"decoder without a sentinel": func() { codec.NewDecoder(nil, nil) },
		"count of empty elements": func() {
			d := codec.NewDecoder(u32s(1), errTest)
			d.Count("count", 1, 0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			fn()
		})
	}
}
