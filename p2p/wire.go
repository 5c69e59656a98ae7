package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire formats. Every integer is big-endian; every message starts with a
// version byte so that a later format can be told apart.
//
//	envelope       version(1)=1 | publish time, unix ms (8) | payload
//	status         version(1)=2 | chain id (8) | genesis hash (32) | head height (8) | protocol (4)
//	sync request   version(1)=1 | from height (8) | max blocks (4)
//	sync response  version(1)=1 | count (4) | count × (length (4) | block)
//
// The status's protocol is the version of what the node carries over the
// host (Options.Protocol). Status version 1 had no protocol field: a peer
// that sends one runs an older release and is refused for its version.
const (
	wireVersion      = 1
	statusVersion    = 2
	envelopeOverhead = 1 + 8
	statusLen        = 1 + 8 + 32 + 8 + 4
	syncRequestLen   = 1 + 8 + 4
	// maxStatusRead bounds what is read of a peer's status, of any
	// version.
	maxStatusRead = 256
)

// encodeEnvelope wraps a payload with its publish time.
func encodeEnvelope(publishMs int64, payload []byte) []byte {
	b := make([]byte, envelopeOverhead+len(payload))
	b[0] = wireVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(publishMs))
	copy(b[9:], payload)
	return b
}

// decodeEnvelope returns the publish time and the payload, which aliases b.
func decodeEnvelope(b []byte) (publishMs int64, payload []byte, err error) {
	if len(b) < envelopeOverhead {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrEnvelope, len(b))
	}
	if b[0] != wireVersion {
		return 0, nil, fmt.Errorf("%w: version %d", ErrEnvelope, b[0])
	}
	ms := binary.BigEndian.Uint64(b[1:9])
	if ms > 1<<62 {
		return 0, nil, fmt.Errorf("%w: publish time %d out of range", ErrEnvelope, ms)
	}
	return int64(ms), b[9:], nil
}

// status is what peers tell each other in the status exchange.
type status struct {
	ChainID  uint64
	Genesis  [32]byte
	Head     uint64
	Protocol uint32
}

func (s status) encode() []byte {
	b := make([]byte, statusLen)
	b[0] = statusVersion
	binary.BigEndian.PutUint64(b[1:9], s.ChainID)
	copy(b[9:41], s.Genesis[:])
	binary.BigEndian.PutUint64(b[41:49], s.Head)
	binary.BigEndian.PutUint32(b[49:53], s.Protocol)
	return b
}

// decodeStatus decodes a status; another status version is ErrVersion,
// told apart from a malformed status so that the log says which.
func decodeStatus(b []byte) (status, error) {
	if len(b) == 0 {
		return status{}, fmt.Errorf("%w: empty", ErrStatus)
	}
	if b[0] != statusVersion {
		return status{}, fmt.Errorf("%w: the peer sends status version %d, this node speaks %d (it runs another release)", ErrVersion, b[0], statusVersion)
	}
	if len(b) != statusLen {
		return status{}, fmt.Errorf("%w: %d bytes", ErrStatus, len(b))
	}
	var s status
	s.ChainID = binary.BigEndian.Uint64(b[1:9])
	copy(s.Genesis[:], b[9:41])
	s.Head = binary.BigEndian.Uint64(b[41:49])
	s.Protocol = binary.BigEndian.Uint32(b[49:53])
	return s, nil
}

// readStatus reads a peer's whole status, whatever its version.
func readStatus(r io.Reader) (status, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStatusRead))
	if err != nil {
		return status{}, err
	}
	return decodeStatus(b)
}

// syncRequest asks for up to Max committed blocks from height From.
type syncRequest struct {
	From uint64
	Max  uint32
}

func (r syncRequest) encode() []byte {
	b := make([]byte, syncRequestLen)
	b[0] = wireVersion
	binary.BigEndian.PutUint64(b[1:9], r.From)
	binary.BigEndian.PutUint32(b[9:13], r.Max)
	return b
}

func decodeSyncRequest(b []byte) (syncRequest, error) {
	if len(b) != syncRequestLen {
		return syncRequest{}, fmt.Errorf("%w: %d bytes", ErrSyncRequest, len(b))
	}
	if b[0] != wireVersion {
		return syncRequest{}, fmt.Errorf("%w: version %d", ErrSyncRequest, b[0])
	}
	r := syncRequest{From: binary.BigEndian.Uint64(b[1:9]), Max: binary.BigEndian.Uint32(b[9:13])}
	if r.Max == 0 || r.Max > MaxSyncBlocks {
		return syncRequest{}, fmt.Errorf("%w: max %d not in 1..%d", ErrSyncRequest, r.Max, MaxSyncBlocks)
	}
	return r, nil
}

// syncLimits bound a sync response as its reader sees it.
type syncLimits struct {
	Count int // most blocks (the request's max)
	Block int // most bytes of one block
	Total int // most bytes of all blocks together
}

// encodeSyncResponse writes the blocks that fit the limits, in order,
// stopping at the first that does not; it returns how many it wrote.
func encodeSyncResponse(w io.Writer, blocks [][]byte, lim syncLimits) (int, error) {
	n, total := 0, 0
	for _, b := range blocks {
		if n == lim.Count || len(b) > lim.Block || total+len(b) > lim.Total {
			break
		}
		total += len(b)
		n++
	}
	hdr := make([]byte, 5)
	hdr[0] = wireVersion
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	if _, err := w.Write(hdr); err != nil {
		return 0, err
	}
	var lb [4]byte
	for _, b := range blocks[:n] {
		binary.BigEndian.PutUint32(lb[:], uint32(len(b)))
		if _, err := w.Write(lb[:]); err != nil {
			return 0, err
		}
		if _, err := w.Write(b); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// readSyncResponse reads one response, refusing one that breaks the limits
// before allocating for it.
func readSyncResponse(r io.Reader, lim syncLimits) ([][]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSyncResponse, err)
	}
	if hdr[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrSyncResponse, hdr[0])
	}
	count := binary.BigEndian.Uint32(hdr[1:])
	if uint64(count) > uint64(lim.Count) {
		return nil, fmt.Errorf("%w: %d blocks, asked for %d", ErrSyncResponse, count, lim.Count)
	}
	blocks := make([][]byte, 0, count)
	total := 0
	var lb [4]byte
	for i := uint32(0); i < count; i++ {
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return nil, fmt.Errorf("%w: block %d length: %w", ErrSyncResponse, i, err)
		}
		n := binary.BigEndian.Uint32(lb[:])
		if uint64(n) > uint64(lim.Block) {
			return nil, fmt.Errorf("%w: block %d has %d bytes", ErrBlockTooLarge, i, n)
		}
		if total+int(n) > lim.Total {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooBig, lim.Total)
		}
		total += int(n)
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%w: block %d: %w", ErrSyncResponse, i, err)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// decodeSyncResponse decodes a whole response held in memory; bytes after
// it are an error.
func decodeSyncResponse(b []byte, lim syncLimits) ([][]byte, error) {
	r := bytes.NewReader(b)
	blocks, err := readSyncResponse(r, lim)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrSyncResponse, r.Len())
	}
	return blocks, nil
}

// isWireError reports whether err is a decoding error of a peer's message,
// as opposed to a transport failure.
func isWireError(err error) bool {
	for _, e := range []error{ErrSyncResponse, ErrBlockTooLarge, ErrResponseTooBig, ErrStatus, ErrVersion, ErrSyncRequest} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
