package p2p

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ms      int64
		payload []byte
	}{
		{"empty", 0, nil},
		{"small", 1_700_000_000_123, []byte("hello")},
		{"large", 1 << 40, bytes.Repeat([]byte{0xab}, 4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, payload, err := decodeEnvelope(encodeEnvelope(tc.ms, tc.payload))
			if err != nil || ms != tc.ms || !bytes.Equal(payload, tc.payload) {
				t.Fatalf("round trip = %d, %q, %v", ms, payload, err)
			}
		})
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, append([]byte{2}, make([]byte, 8)...)} {
		if _, _, err := decodeEnvelope(bad); !errors.Is(err, ErrEnvelope) {
			t.Errorf("decodeEnvelope(%x) = %v, want ErrEnvelope", bad, err)
		}
	}
}

func TestStatusAndRequestRoundTrip(t *testing.T) {
	s := status{ChainID: 7, Genesis: testGenesis, Head: 12345, Protocol: 2}
	got, err := decodeStatus(s.encode())
	if err != nil || got != s {
		t.Fatalf("status round trip = %+v, %v", got, err)
	}
	r := syncRequest{From: 99, Max: 32}
	gotR, err := decodeSyncRequest(r.encode())
	if err != nil || gotR != r {
		t.Fatalf("request round trip = %+v, %v", gotR, err)
	}
	// A status of the previous version (no protocol field, 49 bytes) is
	// told apart from a malformed one: the peer runs another release.
	v1 := append([]byte{1}, s.encode()[1:49]...)
	if _, err := decodeStatus(v1); !errors.Is(err, ErrVersion) {
		t.Errorf("a version 1 status: %v, want ErrVersion", err)
	}
	if _, err := decodeStatus(s.encode()[:52]); !errors.Is(err, ErrStatus) {
		t.Errorf("a short status: %v, want ErrStatus", err)
	}
	for _, max := range []uint32{0, MaxSyncBlocks + 1} {
		if _, err := decodeSyncRequest(syncRequest{From: 1, Max: max}.encode()); !errors.Is(err, ErrSyncRequest) {
			t.Errorf("max %d: %v, want ErrSyncRequest", max, err)
		}
	}
}

func TestSyncResponseLimits(t *testing.T) {
	blocks := [][]byte{[]byte("one"), []byte("two!"), bytes.Repeat([]byte{1}, 100), []byte("four")}
	lim := syncLimits{Count: 10, Block: 1000, Total: 10_000}
	encode := func(blocks [][]byte, lim syncLimits) ([]byte, int) {
		var buf bytes.Buffer
		n, err := encodeSyncResponse(&buf, blocks, lim)
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), n
	}
	t.Run("round trip", func(t *testing.T) {
		b, n := encode(blocks, lim)
		got, err := decodeSyncResponse(b, lim)
		if err != nil || n != 4 || !slices.EqualFunc(got, blocks, bytes.Equal) {
			t.Fatalf("got %q (%d written), %v", got, n, err)
		}
	})
	t.Run("server stops before a block over the limit", func(t *testing.T) {
		_, n := encode(blocks, syncLimits{Count: 10, Block: 50, Total: 10_000})
		if n != 2 {
			t.Fatalf("wrote %d blocks, want 2", n)
		}
		_, n = encode(blocks, syncLimits{Count: 10, Block: 1000, Total: 10})
		if n != 2 {
			t.Fatalf("wrote %d blocks under total 10, want 2", n)
		}
		_, n = encode(blocks, syncLimits{Count: 3, Block: 1000, Total: 10_000})
		if n != 3 {
			t.Fatalf("wrote %d blocks for count 3", n)
		}
	})
	full, _ := encode(blocks, lim)
	for _, tc := range []struct {
		name string
		data []byte
		lim  syncLimits
		want error
	}{
		{"more blocks than asked", full, syncLimits{Count: 3, Block: 1000, Total: 10_000}, ErrSyncResponse},
		{"block too large", full, syncLimits{Count: 10, Block: 99, Total: 10_000}, ErrBlockTooLarge},
		{"response too large", full, syncLimits{Count: 10, Block: 1000, Total: 100}, ErrResponseTooBig},
		{"truncated", full[:len(full)-1], lim, ErrSyncResponse},
		{"trailing bytes", append(slices.Clone(full), 0), lim, ErrSyncResponse},
		{"bad version", append([]byte{9}, full[1:]...), lim, ErrSyncResponse},
		{"huge count", []byte{1, 0xff, 0xff, 0xff, 0xff}, lim, ErrSyncResponse},
		{"huge length", []byte{1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, lim, ErrBlockTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSyncResponse(tc.data, tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("decode = %v, want %v", err, tc.want)
			}
		})
	}
}

// Fuzzers for every decoder of data from peers. Seed corpora are in
// testdata/fuzz/<FuzzName>/.

func FuzzEnvelope(f *testing.F) {
	f.Add(encodeEnvelope(1_700_000_000_000, []byte("payload")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, payload, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if again := encodeEnvelope(ms, payload); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gives %x", b, again)
		}
	})
}

func FuzzStatus(f *testing.F) {
	f.Add(status{ChainID: 7, Genesis: testGenesis, Head: 9}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeStatus(b)
		if err != nil {
			return
		}
		if again := s.encode(); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gives %x", b, again)
		}
	})
}

func FuzzSyncRequest(f *testing.F) {
	f.Add(syncRequest{From: 1, Max: 32}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSyncRequest(b)
		if err != nil {
			return
		}
		if r.Max == 0 || r.Max > MaxSyncBlocks {
			t.Fatalf("accepted max %d", r.Max)
		}
		if again := r.encode(); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gives %x", b, again)
		}
	})
}

func FuzzSyncResponse(f *testing.F) {
	var buf bytes.Buffer
	_, _ = encodeSyncResponse(&buf, [][]byte{[]byte("a"), []byte("block two")}, syncLimits{Count: 8, Block: 64, Total: 256})
	f.Add(buf.Bytes(), uint8(8), uint16(64), uint16(256))
	f.Fuzz(func(t *testing.T, b []byte, count uint8, block, total uint16) {
		lim := syncLimits{Count: int(count), Block: int(block), Total: int(total)}
		blocks, err := decodeSyncResponse(b, lim)
		if err != nil {
			return
		}
		sum := 0
		for _, blk := range blocks {
			if len(blk) > lim.Block {
				t.Fatalf("block of %d bytes over limit %d", len(blk), lim.Block)
			}
			sum += len(blk)
		}
		if len(blocks) > lim.Count || sum > lim.Total {
			t.Fatalf("%d blocks, %d bytes over limits %+v", len(blocks), sum, lim)
		}
		var again bytes.Buffer
		if n, err := encodeSyncResponse(&again, blocks, lim); err != nil || n != len(blocks) || !bytes.Equal(again.Bytes(), b) {
			t.Fatalf("re-encoding gives %x (%d blocks, %v), want %x", again.Bytes(), n, err, b)
		}
	})
}

// A message's identity ignores its envelope: a payload re-wrapped with
// another publish time is the same message; a topic's ID function decides
// which bytes of the payload count.
func TestMessageIDIgnoresEnvelope(t *testing.T) {
	a := encodeEnvelope(1000, []byte("payload"))
	b := encodeEnvelope(2000, []byte("payload"))
	c := encodeEnvelope(1000, []byte("payloae"))
	if messageID("t", a, nil) != messageID("t", b, nil) {
		t.Fatal("re-wrapped payload has a new identity")
	}
	if messageID("t", a, nil) == messageID("t", c, nil) || messageID("t", a, nil) == messageID("u", a, nil) {
		t.Fatal("distinct payloads or topics share an identity")
	}
	prefix := func(p []byte) []byte { return p[:min(len(p), 6)] }
	if messageID("t", a, prefix) != messageID("t", c, prefix) {
		t.Fatal("the topic's ID function is not used")
	}
	if messageID("t", []byte{9}, nil) == messageID("t", a, nil) {
		t.Fatal("a malformed envelope shares an identity")
	}
}
