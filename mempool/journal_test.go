package mempool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/node0/chain"
)

func openJournal(t testing.TB, path string, p *Pool, o JournalOptions) (*Journal, *Replay) {
	t.Helper()
	j, rep, err := OpenJournal(path, p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, rep
}

// admitAndJournal admits raw to p and journals it, as the node's RPC path
// does.
func admitAndJournal(t testing.TB, p *Pool, j *Journal, raw []byte) *chain.Tx {
	t.Helper()
	tx, err := p.Add(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// journalPayloads reads a journal file's records.
func journalPayloads(t testing.TB, path string) ([][]byte, journalCut) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	cut, err := readJournal(bytes.NewReader(b), int64(len(b)), func(p []byte) error {
		out = append(out, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, cut
}

func hashesOf(t testing.TB, tc *testChain, raws [][]byte) map[chain.Hash]bool {
	t.Helper()
	m := map[chain.Hash]bool{}
	for _, r := range raws {
		tx, err := tc.c.Rules().DecodeTx(r)
		if err != nil {
			t.Fatal(err)
		}
		if m[tx.Hash] {
			t.Fatalf("transaction %s journaled twice", tx.Hash)
		}
		m[tx.Hash] = true
	}
	return m
}

// TestJournalReopen: what was appended is admitted again by a new pool over
// the same chain, in order, and the file then holds exactly that.
func TestJournalReopen(t *testing.T) {
	keys := keysN(t, 3)
	tc := newTestChain(t, keys, oneEther)
	path := filepath.Join(t.TempDir(), "mempool.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	j, rep := openJournal(t, path, p, JournalOptions{})
	if rep.Records != 0 || len(rep.Admitted) != 0 {
		t.Fatalf("new journal replayed %+v", rep)
	}
	var want []chain.Hash
	for _, k := range keys {
		for n := range 4 {
			want = append(want, admitAndJournal(t, p, j, raw(t, k, spec{nonce: uint64(n)})).Hash)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(&chain.Tx{Raw: []byte{1}}); !errors.Is(err, ErrJournalClosed) {
		t.Fatalf("append after close: %v", err)
	}
	p2 := newPool(t, tc, DefaultConfig(), nil)
	_, rep = openJournal(t, path, p2, JournalOptions{})
	var got []chain.Hash
	for _, tx := range rep.Admitted {
		got = append(got, tx.Hash)
	}
	if !slices.Equal(got, want) || rep.DroppedTotal() != 0 || rep.Cut != 0 || p2.Len() != len(want) {
		t.Fatalf("replayed %d (dropped %v, cut %d), pool %d; want the %d appended", len(got), rep.Dropped, rep.Cut, p2.Len(), len(want))
	}
}

func keysN(t testing.TB, n int) []*KeyT {
	out := make([]*KeyT, n)
	for i := range out {
		out[i] = key(t, 100+i)
	}
	return out
}

// TestJournalGroupCommit: concurrent appenders share fsyncs, and every
// append that returned is in the file.
func TestJournalGroupCommit(t *testing.T) {
	const appenders, each = 64, 16
	keys := keysN(t, appenders)
	tc := newTestChain(t, keys, oneEther)
	raws := make([][][]byte, appenders)
	for i, k := range keys {
		for n := range each {
			raws[i] = append(raws[i], raw(t, k, spec{nonce: uint64(n)}))
		}
	}
	path := filepath.Join(t.TempDir(), "mempool.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	m := NopJournalMetrics()
	j, _ := openJournal(t, path, p, JournalOptions{Metrics: m})
	var wg sync.WaitGroup
	for i := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range raws[i] {
				tx, err := p.Add(r)
				if err == nil {
					err = j.Append(tx)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	records := appenders * each
	syncs := testutil.ToFloat64(m.Syncs)
	t.Logf("%d appenders: %d records in %.0f syncs, %.1f records per sync", appenders, records, syncs, float64(records)/syncs)
	if syncs >= float64(records)/2 {
		t.Fatalf("%d records took %.0f syncs: concurrent appends do not share them", records, syncs)
	}
	if got := testutil.ToFloat64(m.Appended); got != float64(records) {
		t.Fatalf("appended_total %.0f, want %d", got, records)
	}
	got, cut := journalPayloads(t, path)
	if len(got) != records || cut.Torn || cut.Corrupt {
		t.Fatalf("file holds %d records (cut %+v), want %d", len(got), cut, records)
	}
}

// TestJournalTornTail cuts the last record at every byte and flips a byte
// of it: each time the records before it are replayed, the cut is torn,
// and the node's journal is then exactly those records.
func TestJournalTornTail(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	j, _ := openJournal(t, src, p, JournalOptions{})
	const n = 4
	for i := range n {
		admitAndJournal(t, p, j, raw(t, k, spec{nonce: uint64(i)}))
	}
	j.Close()
	full, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	last := int64(len(full)) - int64(recordHeaderSize+len(raw(t, k, spec{nonce: n - 1})))
	check := func(name string, b []byte, wantTorn bool) {
		t.Helper()
		path := filepath.Join(dir, "j")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p := newPool(t, tc, DefaultConfig(), nil)
		j, rep, err := OpenJournal(path, p, JournalOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer j.Close()
		if len(rep.Admitted) != n-1 || rep.Torn != wantTorn || rep.MovedTo != "" {
			t.Fatalf("%s: replayed %d, torn %v (%s at %d), moved %q; want %d, torn %v", name, len(rep.Admitted), rep.Torn, rep.CutWhy, rep.Cut, rep.MovedTo, n-1, wantTorn)
		}
		if wantTorn && rep.Cut != last {
			t.Fatalf("%s: cut at %d, the last record starts at %d", name, rep.Cut, last)
		}
		if got, cut := journalPayloads(t, path); len(got) != n-1 || cut.Torn {
			t.Fatalf("%s: after open the file holds %d records (torn %v), want %d", name, len(got), cut.Torn, n-1)
		}
	}
	for c := last; c < int64(len(full)); c++ {
		check("cut at "+itoa(c), bytes.Clone(full[:c]), c > last)
	}
	// A checksum or payload byte of the last record changed (a sector of
	// it never written); a changed length is not what a torn write leaves.
	for _, off := range []int64{last + 4, last + 7, last + recordHeaderSize, int64(len(full)) - 1} {
		b := bytes.Clone(full)
		b[off] ^= 0x40
		check("flipped byte "+itoa(off), b, true)
	}
	// A file extended but never written: zeros after the last good record.
	check("zero tail", append(bytes.Clone(full[:last]), make([]byte, 4096)...), true)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestJournalCorrupt: a bad record with whole records after it is not a
// torn tail: the records before it are replayed, the file is copied aside
// as it was, and the node starts. A header of another format refuses to
// open; a header cut short is a new journal.
func TestJournalCorrupt(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	dir := t.TempDir()
	path := filepath.Join(dir, "mempool.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	j, _ := openJournal(t, path, p, JournalOptions{})
	var sizes []int
	for i := range 5 {
		tx := admitAndJournal(t, p, j, raw(t, k, spec{nonce: uint64(i)}))
		sizes = append(sizes, recordHeaderSize+len(tx.Raw))
	}
	j.Close()
	full, _ := os.ReadFile(path)
	third := journalHeaderSize + sizes[0] + sizes[1]

	t.Run("middle", func(t *testing.T) {
		b := bytes.Clone(full)
		b[third+recordHeaderSize+10] ^= 1
		os.WriteFile(path, b, 0o600)
		p := newPool(t, tc, DefaultConfig(), nil)
		j, rep, err := OpenJournal(path, p, JournalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if len(rep.Admitted) != 2 || rep.Torn || rep.Cut != int64(third) || rep.MovedTo == "" {
			t.Fatalf("replayed %d, torn %v, cut %d (want 2, false, %d), moved %q", len(rep.Admitted), rep.Torn, rep.Cut, third, rep.MovedTo)
		}
		aside, err := os.ReadFile(rep.MovedTo)
		if err != nil || !bytes.Equal(aside, b) {
			t.Fatalf("copy aside: %v, equal %v", err, bytes.Equal(aside, b))
		}
		if got, _ := journalPayloads(t, path); len(got) != 2 {
			t.Fatalf("journal holds %d records, want 2", len(got))
		}
	})
	t.Run("bad length", func(t *testing.T) {
		b := bytes.Clone(full)
		b[third+3] = 0xff // length far above the largest transaction
		os.WriteFile(path, b, 0o600)
		p := newPool(t, tc, DefaultConfig(), nil)
		j, rep, err := OpenJournal(path, p, JournalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if len(rep.Admitted) != 2 || rep.Torn || rep.MovedTo == "" {
			t.Fatalf("replayed %d, torn %v, moved %q", len(rep.Admitted), rep.Torn, rep.MovedTo)
		}
	})
	for _, c := range []struct {
		name  string
		b     []byte
		fails bool
	}{
		{"other magic", append([]byte("NOTAJRNL"), full[8:]...), true},
		{"other version", append(append(bytes.Clone(full[:8]), 2, 0, 0, 0), full[12:]...), true},
		{"header cut short", bytes.Clone(full[:7]), false},
		{"empty", nil, false},
		{"garbage prefix", []byte("XY"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(path, c.b, 0o600)
			p := newPool(t, tc, DefaultConfig(), nil)
			j, rep, err := OpenJournal(path, p, JournalOptions{})
			if c.fails {
				if !errors.Is(err, ErrJournalHeader) {
					t.Fatalf("got %v, want ErrJournalHeader", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			if len(rep.Admitted) != 0 {
				t.Fatalf("replayed %d", len(rep.Admitted))
			}
		})
	}
}

// TestJournalReplayDrops: records that became invalid while the node was
// down (the nonce used by a block, the funds spent) are dropped by reason,
// the rest admitted, and the file then holds only the admitted ones.
func TestJournalReplayDrops(t *testing.T) {
	a, b, c := key(t, 1), key(t, 2), key(t, 3)
	tc := newTestChain(t, []*KeyT{a, b, c}, oneEther)
	path := filepath.Join(t.TempDir(), "mempool.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	j, _ := openJournal(t, path, p, JournalOptions{})
	for n := range 3 {
		admitAndJournal(t, p, j, raw(t, a, spec{nonce: uint64(n)}))
	}
	admitAndJournal(t, p, j, raw(t, b, spec{nonce: 0, value: 1}))
	admitAndJournal(t, p, j, raw(t, b, spec{nonce: 1, value: 1}))
	keep := admitAndJournal(t, p, j, raw(t, c, spec{nonce: 0}))
	j.Close()
	// While "down": a's nonces 0..2 are used by other transactions, and b
	// spends its balance.
	commitElsewhere(t, tc, newPool(t, tc, DefaultConfig(), nil),
		raw(t, a, spec{nonce: 0, feeCap: 3e9}), raw(t, a, spec{nonce: 1, feeCap: 3e9}), raw(t, a, spec{nonce: 2, feeCap: 3e9}),
		raw(t, b, spec{nonce: 0, value: 999_950_000_000_000_000}))
	m := NopJournalMetrics()
	p2 := newPool(t, tc, DefaultConfig(), nil)
	_, rep := openJournal(t, path, p2, JournalOptions{Metrics: m})
	if len(rep.Admitted) != 1 || rep.Admitted[0].Hash != keep.Hash || rep.Dropped["nonce_too_low"] != 4 || rep.Dropped["insufficient_funds"] != 1 {
		t.Fatalf("admitted %d, dropped %v; want c's one admitted, 4 nonce_too_low and 1 insufficient_funds", len(rep.Admitted), rep.Dropped)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("nonce_too_low")); got != 4 {
		t.Fatalf("dropped_total{nonce_too_low} %.0f", got)
	}
	if got, _ := journalPayloads(t, path); len(got) != 1 {
		t.Fatalf("journal holds %d records after replay, want 1", len(got))
	}
}

// TestJournalCompactLiveSet: compaction keeps exactly the journaled
// transactions the pool still holds, and appends that run during
// compactions are all kept.
func TestJournalCompactLiveSet(t *testing.T) {
	const senders, each = 16, 200
	keys := keysN(t, senders)
	tc := newTestChain(t, keys, oneEther)
	path := filepath.Join(t.TempDir(), "mempool.journal")
	p := newPool(t, tc, DefaultConfig(), nil)
	m := NopJournalMetrics()
	j, _ := openJournal(t, path, p, JournalOptions{Metrics: m})
	// Half of the senders' first transactions are journaled, then committed.
	var committed [][]byte
	for i, k := range keys {
		r := raw(t, k, spec{nonce: 0})
		admitAndJournal(t, p, j, r)
		if i%2 == 0 {
			committed = append(committed, r)
		}
	}
	commitElsewhere(t, tc, p, committed...)
	// Appends from every sender while compactions run.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var compactions atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := j.Compact(); err != nil {
				t.Error(err)
				return
			}
			compactions.Add(1)
		}
	}()
	var aw sync.WaitGroup
	for _, k := range keys {
		aw.Add(1)
		go func() {
			defer aw.Done()
			// Until several compactions ran during the appends.
			for n := 1; n < each && (n < 8 || compactions.Load() < 3); n++ {
				tx, err := p.Add(raw(t, k, spec{nonce: uint64(n)}))
				if err == nil {
					err = j.Append(tx)
				}
				if err != nil && !errors.Is(err, chain.ErrNonceTooLow) {
					t.Error(err)
					return
				}
			}
		}()
	}
	aw.Wait()
	close(stop)
	wg.Wait()
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	var pause dto.Metric
	if err := m.CompactionPause.Write(&pause); err != nil {
		t.Fatal(err)
	}
	h := pause.GetHistogram()
	t.Logf("%d compactions ran during the appends; they held appends %.0f µs on average", compactions.Load(), h.GetSampleSum()/float64(h.GetSampleCount())*1e6)
	if compactions.Load() == 0 {
		t.Fatal("no compaction ran during the appends")
	}
	got, _ := journalPayloads(t, path)
	in := hashesOf(t, tc, got)
	// Exactly the pool's journaled transactions: here every pooled one was
	// journaled.
	if len(in) != p.Len() {
		t.Fatalf("journal holds %d, pool %d", len(in), p.Len())
	}
	for h := range in {
		if _, ok := p.Get(h); !ok {
			t.Fatalf("journal holds %s, which the pool does not", h)
		}
	}
	if st := j.Stats(); st.Records != len(got) || st.Bytes != fileSize(t, path) {
		t.Fatalf("stats %+v, file %d records %d bytes", st, len(got), fileSize(t, path))
	}
}

func fileSize(t testing.TB, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestJournalBound: with transactions appended and committed block after
// block, the journal never holds more than the documented bound of the
// pool's limits.
func TestJournalBound(t *testing.T) {
	const senders, blocks, perBlock = 8, 40, 8
	keys := keysN(t, senders)
	tc := newTestChain(t, keys, oneEther)
	cfg := DefaultConfig()
	cfg.MaxTxs, cfg.Shards = 32, 1
	path := filepath.Join(t.TempDir(), "mempool.journal")
	p := newPool(t, tc, cfg, nil)
	const minRecs = 16
	j, _ := openJournal(t, path, p, JournalOptions{MinRecords: minRecs, MinBytes: 4096})
	most := 0
	nonce := make([]uint64, senders)
	for blk := range blocks {
		for i := range perBlock {
			s := (blk + i) % senders
			admitAndJournal(t, p, j, raw(t, keys[s], spec{nonce: nonce[s]}))
			nonce[s]++
		}
		// And one behind a gap, which stays queued until the pool's limit
		// evicts it for a later, better-paid one.
		fee := uint64(3e9 + blk*1e6)
		admitAndJournal(t, p, j, raw(t, keys[blk%senders], spec{nonce: 500 + uint64(blk), feeCap: fee, tip: fee}))
		commitFill(t, tc, p)
		if err := j.trimNow(); err != nil {
			t.Fatal(err)
		}
		st := j.Stats()
		most = max(most, st.Records)
		if st.Records > 2*cfg.MaxTxs+minRecs {
			t.Fatalf("block %d: journal holds %d records, bound %d", blk, st.Records, 2*cfg.MaxTxs+minRecs)
		}
		if st.Bytes != fileSize(t, path) {
			t.Fatalf("stats say %d bytes, file has %d", st.Bytes, fileSize(t, path))
		}
	}
	if p.Len() < cfg.MaxTxs-perBlock {
		t.Fatalf("pool holds %d, want it full but for the block's (%d)", p.Len(), cfg.MaxTxs-perBlock)
	}
	t.Logf("%d transactions journaled; the journal held at most %d records, the pool %d", blocks*(perBlock+1), most, p.Len())
}

// TestJournalFailure: after a failed write the journal refuses every
// append, and Remove takes the transaction out of the pool.
func TestJournalFailure(t *testing.T) {
	k := key(t, 1)
	tc := newTestChain(t, []*KeyT{k}, oneEther)
	p := newPool(t, tc, DefaultConfig(), nil)
	j, _ := openJournal(t, filepath.Join(t.TempDir(), "j"), p, JournalOptions{})
	j.wmu.Lock()
	j.f.Close() // the next write fails
	j.wmu.Unlock()
	tx, err := p.Add(raw(t, k, spec{nonce: 0}))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(tx); !errors.Is(err, ErrJournal) {
		t.Fatalf("append on a broken file: %v", err)
	}
	if !p.Remove(tx.Hash) || p.Len() != 0 {
		t.Fatalf("remove: pool holds %d", p.Len())
	}
	if p.Remove(tx.Hash) {
		t.Fatal("removed twice")
	}
	if err := j.Append(tx); !errors.Is(err, ErrJournal) {
		t.Fatalf("second append: %v", err)
	}
}

// FuzzJournal feeds arbitrary bytes to the journal reader: it must not
// panic or fail but on the header, the records it returns re-encode to the
// bytes it kept, and reading those bytes again gives the same records with
// nothing cut. Seeds live in testdata/fuzz/FuzzJournal; run with
// go test -run='^$' -fuzz=FuzzJournal -fuzztime=1m ./mempool
func FuzzJournal(f *testing.F) {
	k := key(f, 1)
	good := journalHeader()
	for n := range 3 {
		good = appendRecord(good, raw(f, k, spec{nonce: uint64(n)}))
	}
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(append(bytes.Clone(good), make([]byte, 64)...))
	f.Add(journalHeader()[:9])
	f.Add(appendRecord(journalHeader(), []byte{0xc0}))
	bad := bytes.Clone(good)
	bad[journalHeaderSize+20] ^= 1
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		var recs [][]byte
		cut, err := readJournal(bytes.NewReader(b), int64(len(b)), func(p []byte) error {
			recs = append(recs, bytes.Clone(p))
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrJournalHeader) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if cut.Empty {
			if len(b) >= journalHeaderSize || len(recs) != 0 {
				t.Fatalf("empty journal of %d bytes with %d records", len(b), len(recs))
			}
			return
		}
		if cut.Good > int64(len(b)) || cut.Records != len(recs) {
			t.Fatalf("cut %+v of %d bytes, %d records", cut, len(b), len(recs))
		}
		if (cut.Good < int64(len(b))) != (cut.Torn || cut.Corrupt) {
			t.Fatalf("cut %+v of %d bytes", cut, len(b))
		}
		enc := journalHeader()
		for _, r := range recs {
			enc = appendRecord(enc, r)
		}
		if !bytes.Equal(enc, b[:cut.Good]) {
			t.Fatal("records do not re-encode to the bytes kept")
		}
		var again int
		cut2, err := readJournal(bytes.NewReader(enc), int64(len(enc)), func([]byte) error { again++; return nil })
		if err != nil || cut2.Torn || cut2.Corrupt || again != len(recs) {
			t.Fatalf("reading the kept bytes: %v, %+v, %d records", err, cut2, again)
		}
	})
}
