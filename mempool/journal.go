package mempool

// The journal of locally received transactions.
//
// # File format
//
// A journal file is a 16-byte header followed by records, all integers
// little-endian:
//
//	header  magic "BZRAJRNL" (8 bytes) | version uint32 (1) | CRC-32C of the 12 bytes before it
//	record  length uint32 | CRC-32C of the length's 4 bytes and the payload | payload (length bytes)
//
// The payload is a transaction's raw encoding as the client sent it
// (chain.Tx.Raw), 1 to chain.MaxMaxTxBytes bytes. Records are only ever
// appended; the file is replaced whole by compaction (a temporary file
// written, synced and renamed over it, then the directory synced).
//
// # Reading it back
//
// Reading stops at the first record that does not check: a length of 0 or
// above chain.MaxMaxTxBytes, a record cut short by the end of the file, or
// a checksum that does not match. What follows it is dropped, and the
// records before it are kept. If the bad record could be the last append
// cut short by a crash (it reaches the end of the file, or only zero bytes
// follow it, as when a file was extended but its data never written) the
// cut is a torn tail, logged as a warning with its offset. Otherwise whole
// bytes follow a record that does not check, which no crash of this writer
// leaves behind: the cut is corruption, the file is copied aside (same name,
// ".corrupt-" and a UTC time appended) for inspection, and the records
// before the cut are still replayed; the node starts. A header that is not
// this format (another magic, an unknown version, a bad checksum) is not a
// torn tail either: OpenJournal refuses it with ErrJournalHeader and the
// node does not start, since the file is not a journal this node wrote. An
// empty file, or one shorter than the header whose bytes are a prefix of
// the header, is a journal whose creation was cut short and starts empty.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/chain"
)

// Errors of the journal.
var (
	// ErrJournal wraps a failed write or sync. The journal refuses every
	// append after one (the state of the file after a failed fsync is not
	// known), until the node restarts.
	ErrJournal = errors.New("mempool: journal write failed")
	// ErrJournalHeader is a journal file whose header is not this format.
	ErrJournalHeader = errors.New("mempool: not a journal file of this version")
	// ErrJournalClosed is an append after Close.
	ErrJournalClosed = errors.New("mempool: journal closed")
)

const (
	journalMagic      = "BZRAJRNL"
	journalVersion    = 1
	journalHeaderSize = 16
	recordHeaderSize  = 8
	// JournalMinRecords and JournalMinBytes are the sizes below which the
	// journal is never compacted, whatever the pool holds.
	JournalMinRecords = 1024
	JournalMinBytes   = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func journalHeader() []byte {
	h := make([]byte, journalHeaderSize)
	copy(h, journalMagic)
	binary.LittleEndian.PutUint32(h[8:], journalVersion)
	binary.LittleEndian.PutUint32(h[12:], crc32.Checksum(h[:12], castagnoli))
	return h
}

// appendRecord appends the record of payload p to b.
func appendRecord(b, p []byte) []byte {
	var h [recordHeaderSize]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(p)))
	c := crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, p)
	binary.LittleEndian.PutUint32(h[4:], c)
	return append(append(b, h[:]...), p...)
}

// journalCut says where reading a journal stopped, if before its end.
type journalCut struct {
	Good    int64  // bytes of the header and the whole records before the cut
	Records int    // whole records before the cut
	Torn    bool   // the bytes after Good can be a last append cut short
	Corrupt bool   // the bytes after Good cannot be
	Reason  string // why the record at Good does not check
	Empty   bool   // no header yet: a new or cut-short new journal
}

// readJournal reads a journal of size bytes from r, calling fn with each
// record's payload in order (the slice is reused: fn copies what it keeps).
// It returns where it stopped; its error is ErrJournalHeader, a read error,
// or fn's.
func readJournal(r io.Reader, size int64, fn func(payload []byte) error) (journalCut, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var cut journalCut
	hdr := make([]byte, journalHeaderSize)
	n, err := io.ReadFull(br, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return cut, err
	}
	want := journalHeader()
	if n < journalHeaderSize {
		if bytes.Equal(hdr[:n], want[:n]) {
			cut.Empty = true
			return cut, nil
		}
		return cut, fmt.Errorf("%w: %d-byte file", ErrJournalHeader, n)
	}
	if !bytes.Equal(hdr, want) {
		return cut, fmt.Errorf("%w: header %x, want %x", ErrJournalHeader, hdr, want)
	}
	cut.Good = journalHeaderSize
	var rh [recordHeaderSize]byte
	payload := make([]byte, 0, 4096)
	for cut.Good < size {
		rest := size - cut.Good
		if rest < recordHeaderSize {
			return cut.stop(br, true, fmt.Sprintf("%d bytes, shorter than a record header", rest))
		}
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			return cut, err
		}
		l := int64(binary.LittleEndian.Uint32(rh[:4]))
		if l == 0 || l > chain.MaxMaxTxBytes {
			allZero := l == 0 && binary.LittleEndian.Uint32(rh[4:]) == 0
			return cut.stop(br, allZero, fmt.Sprintf("record length %d out of range", l))
		}
		if l > rest-recordHeaderSize {
			return cut.stop(br, true, fmt.Sprintf("record of %d bytes cut short at %d", l, rest-recordHeaderSize))
		}
		payload = payload[:l]
		if _, err := io.ReadFull(br, payload); err != nil {
			return cut, err
		}
		c := crc32.Update(crc32.Checksum(rh[:4], castagnoli), castagnoli, payload)
		if c != binary.LittleEndian.Uint32(rh[4:]) {
			return cut.stop(br, recordHeaderSize+l == rest, "checksum mismatch")
		}
		if err := fn(payload); err != nil {
			return cut, err
		}
		cut.Good += recordHeaderSize + l
		cut.Records++
	}
	return cut, nil
}

// stop ends reading at the record at c.Good: torn if torn says so (it
// reaches the end of the file), or if only zero bytes follow what was read
// of it; corrupt otherwise.
func (c journalCut) stop(br *bufio.Reader, torn bool, reason string) (journalCut, error) {
	c.Reason = reason
	if !torn {
		z, err := onlyZeros(br)
		if err != nil {
			return c, err
		}
		torn = z
	}
	c.Torn, c.Corrupt = torn, !torn
	return c, nil
}

// onlyZeros reports whether the rest of br is zero bytes.
func onlyZeros(br *bufio.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// JournalOptions carry what a journal needs besides its path and pool.
type JournalOptions struct {
	Metrics *JournalMetrics
	Logger  *slog.Logger
	// MinRecords and MinBytes are the sizes below which the journal is not
	// compacted; zero means JournalMinRecords and JournalMinBytes.
	MinRecords int
	MinBytes   int64
}

// Replay reports what OpenJournal found and did.
type Replay struct {
	Records  int              // whole records read
	Admitted []*chain.Tx      // admitted to the pool again, in journal order
	Dropped  map[string]int   // records not admitted, by rejection reason
	Cut      int64            // offset where reading stopped before the end; 0 if it did not
	CutWhy   string           // why, if it did
	Torn     bool             // the cut was a torn tail
	MovedTo  string           // where a corrupt journal was copied, if it was
	Took     time.Duration    // reading and admitting
	byReason map[string]error // one example per reason, for the log
}

// DroppedTotal is the number of records not admitted.
func (r *Replay) DroppedTotal() int {
	n := 0
	for _, c := range r.Dropped {
		n += c
	}
	return n
}

// Journal keeps the raw encodings of transactions a node received from its
// clients, so that a crash does not lose one whose hash was returned.
// Append writes and fsyncs a record before it returns; appends that
// arrive while a sync runs share the next one (group commit): one writer
// goroutine takes every record queued since its last sync, writes them in
// one write and syncs once. Compaction rewrites the file from the
// journaled transactions the pool still holds, in a goroutine of its own;
// appends wait only while it copies the records appended since it began
// and renames the file.
//
// Its size is bounded by the pool's limits: the journal is compacted once
// it holds more than JournalMinRecords records and more than twice the
// pool's transactions, or more than JournalMinBytes payload bytes and
// more than twice the pool's bytes, checked after every sync and every
// Trim. So it holds at most 2·max_txs + JournalMinRecords records and
// 2·max_bytes + JournalMinBytes payload bytes (8 bytes of framing a record
// and the 16-byte header on top), plus what is appended while one
// compaction runs.
type Journal struct {
	path    string
	pool    *Pool
	log     *slog.Logger
	metrics *JournalMetrics
	minRecs int
	minByte int64

	wmu sync.Mutex // held by the writer while it writes and syncs, and by compaction while it swaps files
	f   *os.File   // written under wmu

	mu      sync.Mutex
	cur     *journalBatch // records queued for the next sync
	hashes  []chain.Hash  // of the records in the file, in order
	size    int64         // bytes in the file
	payload int64         // payload bytes in the file
	failed  error         // sticky ErrJournal
	closed  bool

	kick   chan struct{} // to the writer: records queued
	trim   chan struct{} // to the compactor: check the size
	quit   chan struct{}
	done   sync.WaitGroup
	compMu sync.Mutex // one compaction at a time
}

type journalBatch struct {
	buf    []byte
	hashes []chain.Hash
	done   chan struct{}
	err    error
}

func newBatch(capHint int) *journalBatch {
	return &journalBatch{buf: make([]byte, 0, capHint), done: make(chan struct{})}
}

// OpenJournal reads the journal at path, admits its transactions to p
// again (AddTxs, the admission the JSON-RPC path uses: those that became
// invalid while the node was down, a nonce used or funds gone, are
// dropped and counted by reason), rewrites the file to hold exactly those
// admitted, and starts appending. A missing file is a new journal. It
// fails on a journal it cannot read or whose header is not this format
// (ErrJournalHeader); a torn or corrupt record is handled as the file
// format's doc says.
func OpenJournal(path string, p *Pool, o JournalOptions) (*Journal, *Replay, error) {
	if o.Metrics == nil {
		o.Metrics = NopJournalMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinRecords <= 0 {
		o.MinRecords = JournalMinRecords
	}
	if o.MinBytes <= 0 {
		o.MinBytes = JournalMinBytes
	}
	j := &Journal{
		path: path, pool: p, log: o.Logger.With("module", "mempool", "journal", path), metrics: o.Metrics,
		minRecs: o.MinRecords, minByte: o.MinBytes, cur: newBatch(4096),
		kick: make(chan struct{}, 1), trim: make(chan struct{}, 1), quit: make(chan struct{}),
	}
	start := time.Now()
	rep, err := j.replay()
	if err != nil {
		return nil, nil, err
	}
	// The file now becomes exactly what the pool admitted: a torn or
	// corrupt tail goes, and so do the dropped records.
	if err := j.rewrite(rep.Admitted); err != nil {
		return nil, nil, err
	}
	rep.Took = time.Since(start)
	j.metrics.Replayed.Add(float64(len(rep.Admitted)))
	for reason, n := range rep.Dropped {
		j.metrics.Dropped.WithLabelValues(reason).Add(float64(n))
	}
	j.done.Add(2)
	go j.writer()
	go j.compactor()
	return j, rep, nil
}

// replay reads the file and admits its records to the pool.
func (j *Journal) replay() (*Replay, error) {
	rep := &Replay{Dropped: map[string]int{}, byReason: map[string]error{}}
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mempool: open journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("mempool: open journal: %w", err)
	}
	var raws [][]byte
	cut, err := readJournal(f, st.Size(), func(b []byte) error {
		raws = append(raws, bytes.Clone(b))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mempool: read journal %s: %w", j.path, err)
	}
	rep.Records = cut.Records
	switch {
	case cut.Torn:
		rep.Cut, rep.CutWhy, rep.Torn = cut.Good, cut.Reason, true
		j.log.Warn("journal: torn last record dropped", "offset", cut.Good, "bytes", st.Size()-cut.Good, "reason", cut.Reason, "records_before", cut.Records)
	case cut.Corrupt:
		rep.Cut, rep.CutWhy = cut.Good, cut.Reason
		aside, err := copyAside(j.path)
		if err != nil {
			return nil, fmt.Errorf("mempool: journal %s is corrupt at offset %d (%s) and could not be copied aside: %w", j.path, cut.Good, cut.Reason, err)
		}
		rep.MovedTo = aside
		j.log.Error("journal: corrupt record; the records after it are dropped and the file was copied aside", "offset", cut.Good, "bytes_dropped", st.Size()-cut.Good, "reason", cut.Reason, "records_before", cut.Records, "copy", aside)
	}
	rep.Admitted = j.admit(raws, rep)
	return rep, nil
}

// admit runs the records through the pool's admission: parsing and
// sender recovery in parallel, then AddTxs in journal order.
func (j *Journal) admit(raws [][]byte, rep *Replay) []*chain.Tx {
	txs := make([]*chain.Tx, len(raws))
	errs := make([]error, len(raws))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raws); i += workers {
				tx, err := j.pool.Parse(raws[i])
				if err == nil {
					err = j.pool.Recover(tx)
				}
				txs[i], errs[i] = tx, err
			}
		}()
	}
	wg.Wait()
	drop := func(err error) {
		name := reasonName(err)
		rep.Dropped[name]++
		if rep.byReason[name] == nil {
			rep.byReason[name] = err
		}
	}
	var admitted []*chain.Tx
	const chunk = 4096
	for lo := 0; lo < len(txs); lo += chunk {
		var batch []*chain.Tx
		for i := lo; i < min(lo+chunk, len(txs)); i++ {
			if errs[i] != nil {
				drop(errs[i])
				continue
			}
			batch = append(batch, txs[i])
		}
		for i, err := range j.pool.AddTxs(batch) {
			if err != nil {
				drop(err)
				continue
			}
			admitted = append(admitted, batch[i])
		}
	}
	return admitted
}

// Example returns one rejection of a dropped reason, for a log line.
func (r *Replay) Example(reason string) error { return r.byReason[reason] }

// reasonName is the rejected_total label of err.
func reasonName(err error) string {
	if i := reasonOf(err); i < len(reasons) {
		return reasons[i].name
	}
	return "other"
}

// copyAside copies a corrupt journal to path.corrupt-<UTC time>, a number
// added if that exists, and returns the name.
func copyAside(path string) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	to := base
	var out *os.File
	for i := 1; ; i++ {
		out, err = os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, os.ErrExist) || i > 100 {
			break
		}
		to = base + "." + strconv.Itoa(i)
	}
	if err != nil {
		return "", err
	}
	return to, copyTo(out, in)
}

func copyTo(out *os.File, in io.Reader) error {
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// rewrite replaces the file with one holding txs, before the writer runs.
func (j *Journal) rewrite(txs []*chain.Tx) error {
	tmp, size, payload, err := j.writeTemp(txs)
	if err != nil {
		return err
	}
	if err := j.install(tmp); err != nil {
		tmp.Close()
		return err
	}
	j.f = tmp
	j.hashes = make([]chain.Hash, len(txs))
	for i, tx := range txs {
		j.hashes[i] = tx.Hash
	}
	j.size, j.payload = size, payload
	j.setGauges()
	return nil
}

func (j *Journal) tempPath() string { return j.path + ".tmp" }

// writeTemp writes a new journal file holding txs to the temporary path and
// syncs it; the file is left open at its end.
func (j *Journal) writeTemp(txs []*chain.Tx) (*os.File, int64, int64, error) {
	f, err := os.OpenFile(j.tempPath(), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("mempool: journal: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	size, payload := int64(journalHeaderSize), int64(0)
	_, err = w.Write(journalHeader())
	var rec []byte
	for _, tx := range txs {
		if err != nil {
			break
		}
		rec = appendRecord(rec[:0], tx.Raw)
		_, err = w.Write(rec)
		size += int64(len(rec))
		payload += int64(len(tx.Raw))
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(j.tempPath())
		return nil, 0, 0, fmt.Errorf("mempool: journal: write %s: %w", j.tempPath(), err)
	}
	return f, size, payload, nil
}

// install renames the synced temporary file over the journal and syncs the
// directory, so that the rename itself survives a crash.
func (j *Journal) install(tmp *os.File) error {
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("mempool: journal: %w", err)
	}
	d, err := os.Open(filepath.Dir(j.path))
	if err != nil {
		return fmt.Errorf("mempool: journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("mempool: journal: sync directory: %w", err)
	}
	return nil
}

// Append journals a transaction the pool admitted: it returns once the
// record is written and synced, or with an error (ErrJournal,
// ErrJournalClosed) if it was not.
func (j *Journal) Append(tx *chain.Tx) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrJournalClosed
	}
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return err
	}
	b := j.cur
	b.buf = appendRecord(b.buf, tx.Raw)
	b.hashes = append(b.hashes, tx.Hash)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-b.done
	return b.err
}

// writer writes and syncs the queued records, one batch per sync.
func (j *Journal) writer() {
	defer j.done.Done()
	for {
		select {
		case <-j.kick:
			j.flush()
		case <-j.quit:
			j.flush()
			return
		}
	}
}

// flush writes and syncs the records queued since the last flush.
func (j *Journal) flush() {
	j.wmu.Lock()
	j.mu.Lock()
	b := j.cur
	if len(b.hashes) == 0 {
		j.mu.Unlock()
		j.wmu.Unlock()
		return
	}
	j.cur = newBatch(cap(b.buf))
	j.mu.Unlock()

	start := time.Now()
	_, err := j.f.Write(b.buf)
	if err == nil {
		err = j.f.Sync()
	}
	took := time.Since(start)

	j.mu.Lock()
	if err != nil {
		j.failed = fmt.Errorf("%w: %w", ErrJournal, err)
		b.err = j.failed
	} else {
		j.hashes = append(j.hashes, b.hashes...)
		j.size += int64(len(b.buf))
		j.payload += int64(len(b.buf) - recordHeaderSize*len(b.hashes))
		j.setGaugesLocked()
	}
	over := j.overLocked()
	j.mu.Unlock()
	j.wmu.Unlock()

	// The metrics count the batch before its appenders return.
	if err != nil {
		j.metrics.Errors.Inc()
		close(b.done)
		j.log.Error("journal: write failed; transactions from clients are refused until the node restarts", "err", err)
		return
	}
	j.metrics.Syncs.Inc()
	j.metrics.SyncSeconds.Observe(took.Seconds())
	j.metrics.RecordsPerSync.Observe(float64(len(b.hashes)))
	j.metrics.Appended.Add(float64(len(b.hashes)))
	close(b.done)
	if over {
		j.Trim()
	}
}

// overLocked reports whether the journal has outgrown what the pool holds
// (see Journal). The caller holds j.mu.
func (j *Journal) overLocked() bool {
	recs := len(j.hashes)
	return (recs > j.minRecs && recs > 2*j.pool.Len()) ||
		(j.payload > j.minByte && j.payload > 2*j.pool.Bytes())
}

// Trim asks for a compaction if the journal has outgrown the pool; it does
// not wait. The node calls it after every committed block.
func (j *Journal) Trim() {
	select {
	case j.trim <- struct{}{}:
	default:
	}
}

func (j *Journal) compactor() {
	defer j.done.Done()
	for {
		select {
		case <-j.trim:
			if err := j.trimNow(); err != nil {
				j.log.Error("journal: compaction failed; the journal keeps growing until one succeeds", "err", err)
			}
		case <-j.quit:
			return
		}
	}
}

// trimNow compacts the journal if it has outgrown the pool.
func (j *Journal) trimNow() error {
	j.mu.Lock()
	over := j.overLocked() && !j.closed && j.failed == nil
	j.mu.Unlock()
	if !over {
		return nil
	}
	return j.Compact()
}

// Compact rewrites the journal to hold only the journaled transactions
// the pool still holds, each once, in journal order, followed by the
// records appended meanwhile. Appends proceed while it writes the live
// set and wait only while it copies those later records and swaps the
// files (the pause, bizra_mempool_journal_compaction_pause_seconds).
func (j *Journal) Compact() error {
	j.compMu.Lock()
	defer j.compMu.Unlock()
	return j.compact()
}

func (j *Journal) compact() error {
	start := time.Now()
	j.mu.Lock()
	if j.closed || j.failed != nil {
		j.mu.Unlock()
		return ErrJournalClosed
	}
	n := len(j.hashes)
	hs := j.hashes[:n:n]
	from := j.size
	j.mu.Unlock()

	seen := make(map[chain.Hash]struct{}, min(n, j.pool.Len()))
	var live []*chain.Tx
	for _, h := range hs {
		if _, dup := seen[h]; dup {
			continue
		}
		if tx, ok := j.pool.Get(h); ok {
			seen[h] = struct{}{}
			live = append(live, tx)
		}
	}
	tmp, size, payload, err := j.writeTemp(live)
	if err != nil {
		return err
	}

	j.wmu.Lock()
	pause := time.Now()
	j.mu.Lock()
	tail := j.hashes[n:]
	to := j.size
	j.mu.Unlock()
	err = j.copyTail(tmp, from, to)
	if err == nil {
		err = j.install(tmp)
	}
	if err != nil {
		j.wmu.Unlock()
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	old := j.f
	j.f = tmp
	j.mu.Lock()
	// The records appended since the snapshot were copied as they are:
	// to-from bytes, 8 of each record framing.
	hashes := make([]chain.Hash, 0, len(live)+len(tail))
	for _, tx := range live {
		hashes = append(hashes, tx.Hash)
	}
	j.hashes = append(hashes, tail...)
	tailBytes := to - from
	j.size = size + tailBytes
	j.payload = payload + tailBytes - int64(recordHeaderSize*len(tail))
	j.mu.Unlock()
	j.wmu.Unlock()
	paused := time.Since(pause)
	old.Close()

	j.metrics.Compactions.Inc()
	j.metrics.CompactionPause.Observe(paused.Seconds())
	j.setGauges()
	j.log.Debug("journal compacted", "records_before", n+len(tail), "records", len(live)+len(tail), "took", time.Since(start), "pause", paused)
	return nil
}

// copyTail appends bytes [from, to) of the current file to tmp and syncs
// it. The caller holds wmu.
func (j *Journal) copyTail(tmp *os.File, from, to int64) error {
	if to > from {
		if _, err := io.Copy(tmp, io.NewSectionReader(j.f, from, to-from)); err != nil {
			return fmt.Errorf("mempool: journal: copy: %w", err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("mempool: journal: %w", err)
	}
	return nil
}

func (j *Journal) setGauges() {
	j.mu.Lock()
	j.setGaugesLocked()
	j.mu.Unlock()
}

// setGaugesLocked is setGauges with j.mu held.
func (j *Journal) setGaugesLocked() {
	j.metrics.Records.Set(float64(len(j.hashes)))
	j.metrics.Bytes.Set(float64(j.size))
}

// JournalStats is the journal's size.
type JournalStats struct {
	Records int   // records in the file
	Bytes   int64 // bytes of the file
	Payload int64 // payload bytes of the records
}

// Stats returns the journal's size.
func (j *Journal) Stats() JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return JournalStats{Records: len(j.hashes), Bytes: j.size, Payload: j.payload}
}

// Close writes and syncs what is queued, stops the writer and the
// compactor and closes the file. Appends after it fail with
// ErrJournalClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.quit)
	j.done.Wait()
	j.compMu.Lock()
	defer j.compMu.Unlock()
	j.wmu.Lock()
	defer j.wmu.Unlock()
	return j.f.Close()
}

// JournalMetrics are the journal's, in namespace bizra, subsystem mempool:
//
//	bizra_mempool_journal_records                     records in the file
//	bizra_mempool_journal_bytes                       bytes of the file
//	bizra_mempool_journal_appended_total              records appended (synced)
//	bizra_mempool_journal_syncs_total                 fsyncs of appended records
//	bizra_mempool_journal_records_per_sync            records one fsync made durable (histogram)
//	bizra_mempool_journal_sync_seconds                write and fsync of one batch (histogram)
//	bizra_mempool_journal_errors_total                failed writes or syncs
//	bizra_mempool_journal_replayed_total              records admitted again at start
//	bizra_mempool_journal_dropped_total{reason}       records not admitted at start, by rejection reason
//	bizra_mempool_journal_compactions_total           compactions
//	bizra_mempool_journal_compaction_pause_seconds    how long a compaction held appends (histogram)
type JournalMetrics struct {
	Records, Bytes                                 prometheus.Gauge
	Appended, Syncs, Errors, Replayed, Compactions prometheus.Counter
	RecordsPerSync, SyncSeconds, CompactionPause   prometheus.Histogram
	Dropped                                        *prometheus.CounterVec
}

// NewJournalMetrics creates the journal metrics and registers them with
// reg; nil registers them nowhere.
func NewJournalMetrics(reg prometheus.Registerer) *JournalMetrics {
	o := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "bizra", Subsystem: "mempool", Name: "journal_" + name, Help: help}
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts(o(name, help)))
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts(o(name, help)))
	}
	hist := func(name, help string, b []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "bizra", Subsystem: "mempool", Name: "journal_" + name, Help: help, Buckets: b})
	}
	m := &JournalMetrics{
		Records:         gauge("records", "Records in the journal file."),
		Bytes:           gauge("bytes", "Bytes of the journal file."),
		Appended:        counter("appended_total", "Records appended and synced."),
		Syncs:           counter("syncs_total", "Fsyncs of appended records (one per group of concurrent appends)."),
		Errors:          counter("errors_total", "Failed journal writes or syncs; after one, appends are refused until restart."),
		Replayed:        counter("replayed_total", "Journal records admitted to the pool again at start."),
		Compactions:     counter("compactions_total", "Journal compactions to the transactions the pool still holds."),
		RecordsPerSync:  hist("records_per_sync", "Records one fsync made durable.", prometheus.ExponentialBuckets(1, 2, 12)),
		SyncSeconds:     hist("sync_seconds", "Time to write and fsync one group of records.", prometheus.ExponentialBuckets(0.00005, 2, 16)),
		CompactionPause: hist("compaction_pause_seconds", "Time a compaction held appends while it swapped files.", prometheus.ExponentialBuckets(0.00005, 2, 16)),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts(o("dropped_total", "Journal records not admitted at start (invalid by then), by rejection reason.")),
			[]string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Records, m.Bytes, m.Appended, m.Syncs, m.Errors, m.Replayed, m.Compactions, m.RecordsPerSync, m.SyncSeconds, m.CompactionPause, m.Dropped)
	}
	return m
}

// NopJournalMetrics returns journal metrics registered nowhere.
func NopJournalMetrics() *JournalMetrics { return NewJournalMetrics(nil) }

// Remove takes a transaction out of the pool, as eviction would (a
// pending one's later nonces are demoted to queued), and reports whether
// it was there. The node removes one whose journal append failed, so that
// a transaction the client was told was not accepted is neither gossiped
// nor proposed by this node.
func (p *Pool) Remove(h chain.Hash) bool {
	e := p.known.get(h)
	if e == nil {
		return false
	}
	sh := p.shards[p.ShardOf(e.tx.From)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e.heapIdx < 0 {
		return false
	}
	p.dropLocked(sh, e)
	sh.stats.evicted.Add(1)
	return true
}
