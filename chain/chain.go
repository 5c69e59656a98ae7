package chain

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/node0/internal/config"
)

// Config tunes the chain's in-memory structures. Its toml and doc tags are
// the chain's keys in the [chain] section of a node's config file.
type Config struct {
	// AccountCacheSize is the number of committed accounts kept in memory
	// in front of Pebble.
	AccountCacheSize int `toml:"account_cache_size" doc:"Committed accounts kept in memory in front of Pebble (about 100 bytes each)."`
}

// DefaultConfig returns a cache of one million accounts (about 100 MiB).
func DefaultConfig() Config { return Config{AccountCacheSize: 1 << 20} }

// Validate reports every problem at once, each a *config.FieldError keyed
// by its setting; it never changes the config.
func (c Config) Validate() error {
	var errs []error
	if c.AccountCacheSize < 1024 {
		errs = append(errs, config.Errorf("account_cache_size", "must be at least 1024, not %d", c.AccountCacheSize))
	}
	return errors.Join(errs...)
}

// Chain is the committed ledger: the head, the state after it, and the
// store. Build or Execute produce a Pending block; Commit makes it durable.
// Commit, NewBuilder and Execute are called by one driver goroutine; the
// read methods are safe for concurrent use.
type Chain struct {
	store      *Store
	genesis    *Genesis
	rules      *Rules
	metrics    *Metrics
	log        *slog.Logger
	cache      *accountCache
	validators map[Address]bool

	commitMu sync.Mutex // serialises Commit

	mu       sync.RWMutex // guards the fields below
	head     Header
	headHash Hash
	lattice  Lattice
}

// New opens the chain in store for genesis: an empty store is initialised
// with the genesis block; a store made from another genesis is refused.
func New(store *Store, g *Genesis, cfg Config, m *Metrics, log *slog.Logger) (*Chain, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NopMetrics()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Chain{
		store:      store,
		genesis:    g,
		rules:      g.Rules(),
		metrics:    m,
		log:        log.With("module", "chain"),
		cache:      newAccountCache(cfg.AccountCacheSize),
		validators: make(map[Address]bool, len(g.Validators)),
	}
	for _, v := range g.Validators {
		c.validators[v.Address] = true
	}
	gh := g.Hash()
	height, ok, err := store.Head()
	if err != nil {
		return nil, err
	}
	if !ok {
		blk, changes := g.Block()
		var zero Lattice
		lat := UpdateLattice(&zero, changes)
		if err := store.write(&commitSet{block: blk, changes: changes, lattice: &lat, genesis: &gh}); err != nil {
			return nil, err
		}
		c.head, c.headHash, c.lattice = blk.Header, blk.Hash(), lat
		for i := 0; i < len(changes) && i < cfg.AccountCacheSize; i++ {
			c.cache.set(changes[i].Addr, changes[i].After)
		}
		c.log.Info("initialised store from genesis", "genesis_hash", gh, "accounts", len(g.Accounts))
		m.Height.Set(0)
		return c, nil
	}
	stored, err := store.GenesisHash()
	if err != nil {
		return nil, fmt.Errorf("%w: no genesis hash: %v", ErrCorruptStore, err)
	}
	if stored != gh {
		return nil, fmt.Errorf("%w: store has %s, genesis file has %s", ErrGenesisMismatch, stored, gh)
	}
	head, err := store.Header(height)
	if err != nil {
		return nil, fmt.Errorf("%w: head block %d: %v", ErrCorruptStore, height, err)
	}
	lat, err := store.Lattice()
	if err != nil {
		return nil, err
	}
	if lat.Root() != head.StateRoot {
		return nil, fmt.Errorf("%w: state sum does not match the state root of block %d", ErrCorruptStore, height)
	}
	c.head, c.headHash, c.lattice = *head, head.Hash(), *lat
	m.Height.Set(float64(height))
	start := time.Now()
	n, err := c.warmCache(cfg.AccountCacheSize)
	if err != nil {
		return nil, err
	}
	c.log.Info("opened store", "height", height, "hash", c.headHash, "cached_accounts", n, "warm_ms", time.Since(start).Milliseconds())
	return c, nil
}

// warmCache loads up to limit committed accounts into the cache, so that
// the first blocks after a start do not wait on disk reads.
func (c *Chain) warmCache(limit int) (int, error) {
	n := 0
	err := c.store.ForEachAccount(func(a Address, acct Account) bool {
		c.cache.set(a, acct)
		n++
		return n < limit
	})
	return n, err
}

// Genesis returns the genesis the chain was opened with.
func (c *Chain) Genesis() *Genesis { return c.genesis }

// Rules returns the stateless transaction rules.
func (c *Chain) Rules() *Rules { return c.rules }

// Store returns the underlying store for indexed reads.
func (c *Chain) Store() *Store { return c.store }

// Head returns the last committed header and its hash.
func (c *Chain) Head() (Header, Hash) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head, c.headHash
}

// IsValidator reports whether addr is the fee address of a validator.
func (c *Chain) IsValidator(addr Address) bool { return c.validators[addr] }

// Account returns the committed state of addr. While a block is being
// committed it may already return the state after that block, before Head
// reports it.
func (c *Chain) Account(addr Address) (Account, error) {
	if a, ok := c.cache.get(addr); ok {
		return a, nil
	}
	seq := c.cache.seq.Load()
	a, err := c.store.Account(addr)
	if err != nil {
		return Account{}, err
	}
	c.cache.fill(addr, a, seq)
	return a, nil
}

// BuildParams describe the block a proposer is building.
type BuildParams struct {
	Proposer  Address
	Round     uint64
	Timestamp uint64 // unix ms; raised to parent + 1 if not later than the parent
	// MaxTxs, if positive, bounds the block below the genesis limits: the
	// proposer's own choice of size (the node's backpressure), not a rule
	// that other validators check.
	MaxTxs int
}

// Builder assembles a block on the current head. Add transactions in the
// order the block should hold them; a rejected transaction changes nothing.
type Builder struct {
	c        *Chain
	parent   Header
	parentH  Hash
	lattice  Lattice
	params   BuildParams
	state    *State
	txs      []*Tx
	receipts []Receipt
	gas      uint64
	started  time.Time // first Add
}

// NewBuilder starts a block on the current head.
func (c *Chain) NewBuilder(p BuildParams) *Builder {
	c.mu.RLock()
	b := &Builder{c: c, parent: c.head, parentH: c.headHash, lattice: c.lattice, params: p}
	c.mu.RUnlock()
	if b.params.Timestamp <= b.parent.Timestamp {
		b.params.Timestamp = b.parent.Timestamp + 1
	}
	// Size the lists and the overlay (a sender and a recipient per
	// transaction) for a full block, up to a bound, so that they do not
	// grow while building.
	n := min(c.genesis.Limits.BlockMaxTxs, 1<<15)
	b.txs = make([]*Tx, 0, n)
	b.receipts = make([]Receipt, 0, n)
	b.state = newStateSized(c, 2*n)
	return b
}

// Add executes tx on the block's state and appends it. It returns
// ErrBlockFull when the block has no room, or the rule the transaction
// breaks; in both cases the block is unchanged.
func (b *Builder) Add(tx *Tx) error {
	lim := &b.c.genesis.Limits
	if len(b.txs) >= b.maxTxs() || b.gas+tx.Gas > lim.BlockGasLimit {
		return ErrBlockFull
	}
	if b.started.IsZero() {
		b.started = time.Now()
	}
	r, err := b.state.ApplyTx(tx, b.params.Proposer, b.c.rules.BaseFee(), b.gas)
	if err != nil {
		return err
	}
	b.txs = append(b.txs, tx)
	b.receipts = append(b.receipts, r)
	b.gas += tx.Gas
	return nil
}

// Remaining returns how many more transfers fit in the block.
func (b *Builder) Remaining() int {
	lim := &b.c.genesis.Limits
	return int(min(uint64(b.maxTxs()-len(b.txs)), (lim.BlockGasLimit-b.gas)/TransferGas))
}

// maxTxs is the most transactions the block may hold: the genesis limit,
// or the builder's own bound below it.
func (b *Builder) maxTxs() int {
	if m := b.params.MaxTxs; m > 0 && m < b.c.genesis.Limits.BlockMaxTxs {
		return m
	}
	return b.c.genesis.Limits.BlockMaxTxs
}

// Len returns the number of transactions added.
func (b *Builder) Len() int { return len(b.txs) }

// Gas returns the gas used so far.
func (b *Builder) Gas() uint64 { return b.gas }

// State exposes the block's state so far, for selection that wants to skip
// transactions the state would reject.
func (b *Builder) State() *State { return b.state }

// Finish computes the roots and returns the block ready to commit.
func (b *Builder) Finish() *Pending {
	start := time.Now()
	hashes := make([]Hash, len(b.txs))
	raws := make([][]byte, len(b.txs))
	for i, tx := range b.txs {
		hashes[i], raws[i] = tx.Hash, tx.Raw
	}
	changes := b.state.Changes()
	txRoot, receiptsRoot, lat := blockRoots(hashes, b.receipts, &b.lattice, changes)
	blk := &Block{
		Header: Header{
			ChainID:      b.c.rules.ChainID,
			Height:       b.parent.Height + 1,
			Round:        b.params.Round,
			Timestamp:    b.params.Timestamp,
			GasUsed:      b.gas,
			ParentHash:   b.parentH,
			Proposer:     b.params.Proposer,
			TxRoot:       txRoot,
			StateRoot:    lat.Root(),
			ReceiptsRoot: receiptsRoot,
		},
		Txs: raws,
	}
	if b.started.IsZero() {
		b.started = start
	}
	b.c.metrics.StateApply.Observe(time.Since(b.started).Seconds())
	return &Pending{Block: blk, Receipts: b.receipts, Txs: b.txs, txHashes: hashes, changes: changes, lattice: lat}
}

// blockRoots computes the transactions root, the receipts root and the new
// state sum of a block concurrently.
func blockRoots(txHashes []Hash, receipts []Receipt, base *Lattice, changes []AccountChange) (txRoot, receiptsRoot Hash, lat Lattice) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		txRoot = MerkleRoot(txHashes)
		receiptsRoot = ReceiptsRoot(receipts)
	}()
	lat = UpdateLattice(base, changes)
	wg.Wait()
	return txRoot, receiptsRoot, lat
}

// Pending is an executed block that is not yet committed.
type Pending struct {
	Block    *Block
	Receipts []Receipt
	Txs      []*Tx
	txHashes []Hash
	changes  []AccountChange
	lattice  Lattice
}

// Changes returns the accounts the block changes, with before and after.
func (p *Pending) Changes() []AccountChange { return p.changes }

// SenderLookup returns the already recovered sender of a transaction hash,
// for example from the mempool, so that Execute need not recover it again.
type SenderLookup func(Hash) (Address, bool)

// Execute re-executes a proposed block on the current head and checks every
// header field against the result. known may be nil. notAfter bounds the
// block's timestamp (unix ms): the caller, which holds the clock, passes its
// time plus the clock drift it tolerates, so that a proposer cannot push
// timestamps into the future.
func (c *Chain) Execute(blk *Block, known SenderLookup, notAfter uint64) (*Pending, error) {
	start := time.Now()
	c.mu.RLock()
	parent, parentH, base := c.head, c.headHash, c.lattice
	c.mu.RUnlock()
	if ts := blk.Header.Timestamp; ts > notAfter {
		return nil, fmt.Errorf("%w %d: timestamp %d is %d ms in the future", ErrBadBlock, blk.Header.Height, ts, ts-notAfter)
	}
	p, err := c.execute(&parent, parentH, &base, c, blk, known)
	if err != nil {
		return nil, err
	}
	c.metrics.StateApply.Observe(time.Since(start).Seconds())
	return p, nil
}

// execute checks blk against its parent and re-executes it on state.
func (c *Chain) execute(parent *Header, parentH Hash, base *Lattice, state StateReader, blk *Block, known SenderLookup) (*Pending, error) {
	h := &blk.Header
	lim := &c.genesis.Limits
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %d: %s", ErrBadBlock, h.Height, fmt.Sprintf(format, args...))
	}
	switch {
	case h.ChainID != c.rules.ChainID:
		return nil, bad("chain id %d, want %d", h.ChainID, c.rules.ChainID)
	case h.Height != parent.Height+1:
		return nil, bad("height does not follow %d", parent.Height)
	case h.ParentHash != parentH:
		return nil, bad("parent %s, want %s", h.ParentHash, parentH)
	case h.Timestamp <= parent.Timestamp || h.Timestamp > maxTimestamp:
		return nil, bad("timestamp %d not after parent %d", h.Timestamp, parent.Timestamp)
	case !c.validators[h.Proposer]:
		return nil, bad("proposer %s is not a validator", h.Proposer)
	case len(blk.Txs) > lim.BlockMaxTxs:
		return nil, bad("%d transactions, limit %d", len(blk.Txs), lim.BlockMaxTxs)
	case uint64(len(blk.Txs))*TransferGas > lim.BlockGasLimit:
		return nil, bad("gas %d over limit %d", uint64(len(blk.Txs))*TransferGas, lim.BlockGasLimit)
	}
	txs, err := c.decodeBlockTxs(blk, known)
	if err != nil {
		return nil, bad("%v", err)
	}
	st := NewState(state)
	receipts := make([]Receipt, len(txs))
	hashes := make([]Hash, len(txs))
	var gas uint64
	for i, tx := range txs {
		r, err := st.ApplyTx(tx, h.Proposer, c.rules.BaseFee(), gas)
		if err != nil {
			return nil, bad("tx %d (%s): %v", i, tx.Hash, err)
		}
		receipts[i], hashes[i] = r, tx.Hash
		gas += tx.Gas
	}
	changes := st.Changes()
	txRoot, receiptsRoot, lat := blockRoots(hashes, receipts, base, changes)
	switch {
	case gas != h.GasUsed:
		return nil, bad("gas used %d, header says %d", gas, h.GasUsed)
	case txRoot != h.TxRoot:
		return nil, bad("transactions root mismatch")
	case receiptsRoot != h.ReceiptsRoot:
		return nil, bad("receipts root mismatch")
	case lat.Root() != h.StateRoot:
		return nil, bad("state root mismatch")
	}
	return &Pending{Block: blk, Receipts: receipts, Txs: txs, txHashes: hashes, changes: changes, lattice: lat}, nil
}

// decodeBlockTxs parses every transaction and recovers the senders that
// known does not supply, on all cores.
func (c *Chain) decodeBlockTxs(blk *Block, known SenderLookup) ([]*Tx, error) {
	txs := make([]*Tx, len(blk.Txs))
	var todo []int
	for i, raw := range blk.Txs {
		tx, err := c.rules.ParseTx(raw)
		if err != nil {
			return nil, fmt.Errorf("tx %d: %w", i, err)
		}
		txs[i] = tx
		if known != nil {
			if from, ok := known(tx.Hash); ok {
				tx.From, tx.recovered, tx.eth = from, true, nil
				continue
			}
		}
		todo = append(todo, i)
	}
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var next atomic.Int64
	errs := make([]error, len(txs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(todo) {
					return
				}
				i := todo[k]
				errs[i] = c.rules.RecoverSender(txs[i])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("tx %d: %w", i, err)
		}
	}
	return txs, nil
}

// Commit writes a pending block in one synced batch and makes it the head.
// The block must extend the current head.
func (c *Chain) Commit(p *Pending) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.RLock()
	parent, parentH := c.head, c.headHash
	c.mu.RUnlock()
	h := &p.Block.Header
	if h.ParentHash != parentH || h.Height != parent.Height+1 {
		return fmt.Errorf("%w: block %d parent %s, head %d %s", ErrStalePending, h.Height, h.ParentHash, parent.Height, parentH)
	}
	start := time.Now()
	c.cache.beginCommit()
	defer c.cache.endCommit()
	if err := c.store.write(&commitSet{
		block:    p.Block,
		txHashes: p.txHashes,
		receipts: p.Receipts,
		changes:  p.changes,
		lattice:  &p.lattice,
	}); err != nil {
		return err
	}
	c.metrics.StoreCommit.Observe(time.Since(start).Seconds())
	for i := range p.changes {
		c.cache.set(p.changes[i].Addr, p.changes[i].After)
	}
	c.mu.Lock()
	c.head, c.headHash, c.lattice = *h, p.Block.Hash(), p.lattice
	c.mu.Unlock()
	c.metrics.Height.Set(float64(h.Height))
	c.metrics.BlockTxs.Observe(float64(len(p.Block.Txs)))
	c.metrics.CommittedTxs.Add(float64(len(p.Block.Txs)))
	c.metrics.BlockInterval.Observe(float64(h.Timestamp-parent.Timestamp) / 1000)
	return nil
}
