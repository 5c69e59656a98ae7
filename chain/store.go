package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// StoreOptions configure the Pebble store.
type StoreOptions struct {
	// FS is the filesystem Pebble runs on; vfs.Default for a real node, an
	// in-memory or crash-cloned one in tests.
	FS vfs.FS
	// CacheBytes is the block cache size.
	CacheBytes int64
	// MemTableBytes is the size of one memtable.
	MemTableBytes uint64
	// Logger receives Pebble's own messages at debug (info) and error level.
	Logger *slog.Logger
}

// DefaultStoreOptions returns options for a node on disk: 256 MiB of block
// cache and 32 MiB memtables (Pebble preallocates each write-ahead log to
// 110% of this, so it also bounds the disk a fresh node reserves).
func DefaultStoreOptions() StoreOptions {
	return StoreOptions{
		FS:            vfs.Default,
		CacheBytes:    256 << 20,
		MemTableBytes: 32 << 20,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// Store is the node's Pebble database. Reads are safe for concurrent use
// and fail with ErrClosed once the store is closed (never touching a closed
// Pebble); writes come only from Chain, one synced batch per block.
type Store struct {
	db     *pebble.DB
	mu     sync.RWMutex // read-held by every operation, write-held by Close
	closed bool
}

// enter read-locks the store for one operation.
func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.mu.RUnlock() }

// OpenStore opens or creates the store in dir.
func OpenStore(dir string, o StoreOptions) (*Store, error) {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		FS:                 o.FS,
		Cache:              cache,
		MemTableSize:       o.MemTableBytes,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.Logger.With("module", "pebble")},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("chain: open store %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close waits for operations in progress, then flushes and closes the
// database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// get returns a copy of the value at key, or ErrNotFound.
func (s *Store) get(key []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chain: store read: %w", err)
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// Head returns the last committed height; ok is false for an empty store.
func (s *Store) Head() (height uint64, ok bool, err error) {
	v, err := s.get(keyHead)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: head is %d bytes", ErrCorruptStore, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// GenesisHash returns the hash of the genesis the store was created from.
func (s *Store) GenesisHash() (Hash, error) {
	v, err := s.get(keyGenesis)
	if err != nil {
		return Hash{}, err
	}
	if len(v) != 32 {
		return Hash{}, fmt.Errorf("%w: genesis hash is %d bytes", ErrCorruptStore, len(v))
	}
	return Hash(v), nil
}

// Lattice returns the state sum after the last committed block.
func (s *Store) Lattice() (*Lattice, error) {
	v, err := s.get(keyLattice)
	if err != nil {
		return nil, err
	}
	l := new(Lattice)
	if err := l.SetBytes(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptStore, err)
	}
	return l, nil
}

// Block returns the block at height.
func (s *Store) Block(height uint64) (*Block, error) {
	v, err := s.get(blockKey(height))
	if err != nil {
		return nil, err
	}
	b, err := DecodeBlock(v)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d: %v", ErrCorruptStore, height, err)
	}
	return b, nil
}

// RawBlock returns the block at height as stored, encoded, without
// decoding it: what block sync serves.
func (s *Store) RawBlock(height uint64) ([]byte, error) {
	return s.get(blockKey(height))
}

// Header returns the header at height.
func (s *Store) Header(height uint64) (*Header, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	v, closer, err := s.db.Get(blockKey(height))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chain: store read: %w", err)
	}
	defer closer.Close()
	if len(v) < HeaderSize {
		return nil, fmt.Errorf("%w: block %d is %d bytes", ErrCorruptStore, height, len(v))
	}
	h, err := DecodeHeader(v[:HeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: header %d: %v", ErrCorruptStore, height, err)
	}
	return h, nil
}

// BlockHeight returns the height of the block with the given hash.
func (s *Store) BlockHeight(hash Hash) (uint64, error) {
	v, err := s.get(hashKey(hash))
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: hash index entry is %d bytes", ErrCorruptStore, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// TxLocation returns the height and index of a committed transaction.
func (s *Store) TxLocation(hash Hash) (height uint64, index uint32, err error) {
	v, err := s.get(appendTxKey(make([]byte, 0, 33), hash))
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 12 {
		return 0, 0, fmt.Errorf("%w: tx index entry is %d bytes", ErrCorruptStore, len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]), nil
}

// Receipts returns the receipts of the block at height.
func (s *Store) Receipts(height uint64) ([]Receipt, error) {
	v, err := s.get(receiptsKey(height))
	if err != nil {
		return nil, err
	}
	rs, err := DecodeReceipts(v)
	if err != nil {
		return nil, fmt.Errorf("%w: receipts %d: %v", ErrCorruptStore, height, err)
	}
	return rs, nil
}

// Account reads a committed account; absent accounts are empty.
func (s *Store) Account(addr Address) (Account, error) {
	if err := s.enter(); err != nil {
		return Account{}, err
	}
	defer s.leave()
	var kb [21]byte
	v, closer, err := s.db.Get(appendAccountKey(kb[:0], addr))
	if errors.Is(err, pebble.ErrNotFound) {
		return Account{}, nil
	}
	if err != nil {
		return Account{}, fmt.Errorf("chain: store read: %w", err)
	}
	defer closer.Close()
	a, err := DecodeAccount(v)
	if err != nil {
		return Account{}, fmt.Errorf("%w: account %s: %v", ErrCorruptStore, addr, err)
	}
	return a, nil
}

// ForEachAccount calls fn for every stored account in address order, until
// fn returns false.
func (s *Store) ForEachAccount(fn func(Address, Account) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixAccount},
		UpperBound: []byte{prefixAccount + 1},
	})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 21 {
			_ = it.Close()
			return fmt.Errorf("%w: account key of %d bytes", ErrCorruptStore, len(k))
		}
		a, err := DecodeAccount(it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("%w: %v", ErrCorruptStore, err)
		}
		if !fn(Address(k[1:]), a) {
			break
		}
	}
	return it.Close()
}

// commitSet is everything one block writes.
type commitSet struct {
	block    *Block
	txHashes []Hash
	receipts []Receipt
	changes  []AccountChange
	lattice  *Lattice
	genesis  *Hash // set only when writing height 0
}

// write commits a block in one synced batch.
func (s *Store) write(c *commitSet) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	h := c.block.Header.Height
	b := s.db.NewBatch()
	defer b.Close()
	set := func(k, v []byte) {
		if err := b.Set(k, v, nil); err != nil {
			panic(fmt.Sprintf("chain: batch set: %v", err)) // batches in memory do not fail
		}
	}
	set(blockKey(h), c.block.Encode())
	set(receiptsKey(h), EncodeReceipts(c.receipts))
	set(hashKey(c.block.Hash()), u64Bytes(h))
	// Keys go in sorted runs: the memtable inserts a run of ascending keys
	// faster than the same keys in random order.
	key := make([]byte, 0, 33)
	for _, i := range sortedOrder(len(c.txHashes), func(i, j int) int { return bytes.Compare(c.txHashes[i][:], c.txHashes[j][:]) }) {
		key = appendTxKey(key[:0], c.txHashes[i])
		set(key, txLocation(h, uint32(i)))
	}
	val := make([]byte, 0, accountSize)
	for _, i := range sortedOrder(len(c.changes), func(i, j int) int { return bytes.Compare(c.changes[i].Addr[:], c.changes[j].Addr[:]) }) {
		ch := &c.changes[i]
		key = appendAccountKey(key[:0], ch.Addr)
		if ch.After.IsEmpty() {
			if err := b.Delete(key, nil); err != nil {
				panic(fmt.Sprintf("chain: batch delete: %v", err))
			}
			continue
		}
		val = ch.After.AppendEncode(val[:0])
		set(key, val)
	}
	set(keyLattice, c.lattice.Bytes())
	if c.genesis != nil {
		set(keyGenesis, c.genesis[:])
	}
	set(keyHead, u64Bytes(h))
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("chain: commit block %d: %w", h, err)
	}
	return nil
}

// sortedOrder returns the indexes 0..n-1 ordered by cmp.
func sortedOrder(n int, cmp func(i, j int) int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, cmp)
	return idx
}

// pebbleLogger routes Pebble's messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf("pebble: "+format, args...))
}

var _ io.Closer = (*Store)(nil)
