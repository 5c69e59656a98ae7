package mempool

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizra/node0/chain"
)

// StateReader reads committed accounts.
type StateReader interface {
	Account(addr chain.Address) (chain.Account, error)
}

// Options carry what the pool needs from its owner besides the config.
type Options struct {
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock for arrival times and expiry; nil is time.Now.
	Now func() time.Time
	// OnAdmit, if set, is called after each admission, outside every lock
	// of the pool; it must not block.
	OnAdmit func(*chain.Tx)
}

// Pool is the sharded transaction pool. All methods are safe for
// concurrent use.
type Pool struct {
	cfg       Config
	rules     *chain.Rules
	state     StateReader
	now       func() time.Time
	log       *slog.Logger
	shardTxs  int
	shardByte int64
	shards    []*shard
	known     *knownIndex
	metrics   *Metrics
	onAdmit   func(*chain.Tx)
	none      []prometheus.Counter // rejections before the sender is known, by reason

	epoch time.Time // arrival times count from here
	// approxCount and approxBytes follow the whole pool's size, each shard
	// adding its changes in steps of flushStep or more, so that admissions
	// do not all write one cache line. See over.
	approxCount atomic.Int64
	approxBytes atomic.Int64
	// blocks counts Committed calls: a sender's replacements are counted
	// from the last block (account.replacedAt).
	blocks atomic.Uint64
}

// flushStep is how far a shard's count (or, times 1 KiB, its bytes) may
// drift from what it has added to the pool's approximate totals.
const flushStep = 64

// account is one sender's transactions in its shard.
type account struct {
	nonce   uint64            // next nonce the committed state expects
	pending []*entry          // pending[i].tx.Nonce == nonce + i
	queued  map[uint64]*entry // nonces above a gap
	// balance is the committed balance, as read when the sender entered the
	// shard and kept by Committed since; cost is the sum of MaxCost over
	// pending and queued, at most balance after every admission and every
	// block.
	balance uint256.Int
	cost    uint256.Int
	// replaced counts replacements since block replacedAt, the low 32 bits
	// of Pool.blocks (compared for equality only, so wrapping is harmless).
	replaced   uint32
	replacedAt uint32
}

// maxCost is tx.MaxCost for a transaction that passed the stateless rules,
// which refuse one whose cost overflows.
func maxCost(tx *chain.Tx) uint256.Int {
	c, _ := tx.MaxCost()
	return c
}

// addCost and subCost keep a.cost as entries come and go.
func (a *account) addCost(e *entry) {
	c := maxCost(e.tx)
	a.cost.Add(&a.cost, &c)
}

func (a *account) subCost(e *entry) {
	c := maxCost(e.tx)
	a.cost.Sub(&a.cost, &c)
}

type shard struct {
	mu       sync.Mutex
	idx      uint64
	nextSeq  uint64
	unflCnt  int64 // changes not yet added to approxCount
	unflByte int64 // changes not yet added to approxBytes
	accounts map[chain.Address]*account
	pendingH evictHeap
	queuedH  evictHeap
	count    int
	bytes    int64
	rejected []prometheus.Counter // by reason
	stats    shardStats
}

// New returns an empty pool for a chain's rules over its committed state.
func New(cfg Config, rules *chain.Rules, state StateReader, o Options) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Pool{cfg: cfg, rules: rules, state: state, now: o.Now, epoch: o.Now(), log: o.Logger.With("module", "mempool"), metrics: o.Metrics, onAdmit: o.OnAdmit, none: o.Metrics.rejectedFor("none")}
	p.shardTxs, p.shardByte = cfg.shardLimits()
	for i := range cfg.Shards {
		p.shards = append(p.shards, &shard{idx: uint64(i), accounts: make(map[chain.Address]*account), rejected: o.Metrics.rejectedFor(strconv.Itoa(i))})
	}
	o.Metrics.collector.pool.Store(p)
	p.known = newKnownIndex()
	return p, nil
}

// ShardOf returns the shard of a sender: its first byte modulo the shard
// count, as in the design document.
func (p *Pool) ShardOf(sender chain.Address) int { return int(sender[0]) % len(p.shards) }

// Add admits a raw transaction, running every check from the cheapest:
// size, decoding, chain id, the rules of a transfer, minimum gas price,
// duplicate hash, sender recovery, nonce, balance; then the pool's own
// rules, among them the sender's balance against the cost of all its pooled
// transactions. It returns the parsed transaction on success.
func (p *Pool) Add(raw []byte) (*chain.Tx, error) {
	tx, err := p.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := p.AddTx(tx); err != nil {
		return nil, err
	}
	return tx, nil
}

// Parse runs the first of Add's checks, those of the transaction alone
// that need no signature recovery (chain.Rules.ParseTx), and counts a
// refusal as Add does. It lets a caller with many transactions refuse a bad
// one before recovering any sender.
func (p *Pool) Parse(raw []byte) (*chain.Tx, error) {
	tx, err := p.rules.ParseTx(raw)
	if err != nil {
		p.none[reasonOf(err)].Inc()
		return nil, err
	}
	return tx, nil
}

// Recover recovers the sender of a parsed transaction (the expensive check,
// chain.Rules.RecoverSender) and counts a refusal as Add does; AddTx and
// AddTxs do not recover it again.
func (p *Pool) Recover(tx *chain.Tx) error {
	if err := p.rules.RecoverSender(tx); err != nil {
		p.none[reasonOf(err)].Inc()
		return err
	}
	return nil
}

// AddTx admits a transaction that passed chain.Rules.ParseTx. Its sender is
// recovered here unless it already was.
func (p *Pool) AddTx(tx *chain.Tx) error {
	e := &entry{tx: tx, heapIdx: -1}
	if !p.known.reserve(e) {
		p.none[reasonOf(ErrAlreadyKnown)].Inc()
		return ErrAlreadyKnown
	}
	if err := p.recover(e); err != nil {
		return err
	}
	sh := p.shards[p.ShardOf(tx.From)]
	st, err := p.prepare(e)
	if err == nil {
		sh.mu.Lock()
		err = p.insertAndFit(sh, e, &st)
		sh.mu.Unlock()
	}
	if err == nil {
		err = p.fitPool(sh, e)
	}
	p.finish(sh, e, err)
	return err
}

// AddTxs admits a batch, as AddTx would one by one, and returns an error
// (or nil) for each. The batch is grouped by hash stripe and by shard, so
// each lock is taken once per group: with many cores admitting at once,
// far fewer cache lines move between them than with single admissions.
// Transactions of one sender keep their order.
func (p *Pool) AddTxs(txs []*chain.Tx) []error {
	errs := make([]error, len(txs))
	es := make([]*entry, len(txs))
	for i, tx := range txs {
		es[i] = &entry{tx: tx, heapIdx: -1}
	}
	for i, ok := range p.known.reserveAll(es) {
		if !ok {
			errs[i] = ErrAlreadyKnown
			p.none[reasonOf(ErrAlreadyKnown)].Inc()
		}
	}
	states := make([]chain.Account, len(txs))
	byShard := make([][]int, len(p.shards))
	for i, e := range es {
		if errs[i] != nil {
			continue
		}
		if errs[i] = p.recover(e); errs[i] != nil {
			continue
		}
		sh := p.ShardOf(e.tx.From)
		if states[i], errs[i] = p.prepare(e); errs[i] != nil {
			p.finish(p.shards[sh], e, errs[i])
			continue
		}
		byShard[sh] = append(byShard[sh], i)
	}
	for si, idx := range byShard {
		if len(idx) == 0 {
			continue
		}
		sh := p.shards[si]
		sh.mu.Lock()
		for _, i := range idx {
			errs[i] = p.insertAndFit(sh, es[i], &states[i])
		}
		sh.mu.Unlock()
	}
	for si, idx := range byShard {
		sh := p.shards[si]
		for _, i := range idx {
			if errs[i] == nil {
				errs[i] = p.fitPool(sh, es[i])
			}
			p.finish(sh, es[i], errs[i])
		}
	}
	return errs
}

// recover checks the signature if nobody has; on failure it releases the
// reserved hash.
func (p *Pool) recover(e *entry) error {
	if e.tx.Recovered() {
		return nil
	}
	if err := p.rules.RecoverSender(e.tx); err != nil {
		p.known.remove(e)
		p.none[reasonOf(err)].Inc()
		return err
	}
	return nil
}

// prepare applies the checks of the transaction alone against the committed
// state and fills in the entry's ordering fields. It returns the committed
// account.
func (p *Pool) prepare(e *entry) (chain.Account, error) {
	tx := e.tx
	acct, err := p.state.Account(tx.From)
	if err != nil {
		return chain.Account{}, fmt.Errorf("mempool: read sender account: %w", err)
	}
	if tx.Nonce < acct.Nonce {
		return chain.Account{}, chain.Rejectf(chain.ErrNonceTooLow, "address %s, tx %d, state %d", tx.From, tx.Nonce, acct.Nonce)
	}
	cost, overflow := tx.MaxCost()
	if overflow || acct.Balance.Lt(&cost) {
		return chain.Account{}, chain.Rejectf(chain.ErrInsufficientFunds, "address %s have %s want %s", tx.From, acct.Balance.Dec(), cost.Dec())
	}
	price := tx.EffectiveGasPrice(p.rules.BaseFee())
	e.prio, e.arrived = priority(&price), p.sinceEpoch()
	return acct, nil
}

// insertAndFit inserts e and keeps the shard within its share. The caller
// holds sh.mu.
func (p *Pool) insertAndFit(sh *shard, e *entry, st *chain.Account) error {
	replaced, err := p.insertLocked(sh, e, st)
	if err != nil {
		return err
	}
	// An incoming queued transaction may only displace queued ones; what it
	// may displace is decided once, as it enters.
	e.mayDisplacePending = !e.queued
	if replaced != nil {
		e.replacement = true
		return nil
	}
	for sh.count > p.shardTxs || sh.bytes > p.shardByte {
		if p.evictLocked(sh, e.mayDisplacePending) == nil || e.evicted {
			break
		}
	}
	if e.evicted {
		return ErrShardFull
	}
	return nil
}

// fitPool keeps the whole pool within its limits after e entered. A
// replacement adds no transaction and only a few bytes, and is never undone
// by eviction.
func (p *Pool) fitPool(sh *shard, e *entry) error {
	if e.replacement {
		return nil
	}
	for p.over() {
		if !p.evictGlobal(e.mayDisplacePending) {
			break
		}
	}
	sh.mu.Lock()
	evicted := e.evicted
	sh.mu.Unlock()
	if evicted {
		return ErrUnderpriced
	}
	return nil
}

// finish counts the outcome and releases the hash of a refused entry.
func (p *Pool) finish(sh *shard, e *entry, err error) {
	if err != nil {
		p.known.remove(e)
		sh.rejected[reasonOf(err)].Inc()
		return
	}
	sh.stats.admitted.Add(1)
	if p.onAdmit != nil {
		p.onAdmit(e.tx)
	}
}

// bumped reports whether next may replace prev: fee cap and tip both at
// least PriceBumpPercent higher.
func (p *Pool) bumped(prev, next *chain.Tx) bool {
	pct := uint256.NewInt(uint64(100 + p.cfg.PriceBumpPercent))
	hundred := uint256.NewInt(100)
	need := func(old *uint256.Int) *uint256.Int {
		var v uint256.Int
		v.Mul(old, pct)
		return v.Div(&v, hundred)
	}
	// Ceiling would be stricter by at most one wei; integer division keeps
	// the rule the same as the price bump Ethereum tools compute.
	return !next.FeeCap.Lt(need(&prev.FeeCap)) && !next.TipCap.Lt(need(&prev.TipCap))
}

// insertLocked places e in its sender's lists. st is the committed account
// read at admission, used when the sender is new to the shard.
//
// The sender's balance must pay for all of its pooled transactions at once:
// value + gas × fee cap of every pending and queued one, with e instead of
// the one it replaces. The running total (account.cost) makes the check
// O(1). A replacement needs the price bump and may be one of at most
// MaxReplacementsPerSender of the sender's since the last block.
func (p *Pool) insertLocked(sh *shard, e *entry, st *chain.Account) (replaced *entry, err error) {
	tx := e.tx
	a := sh.accounts[tx.From]
	if a == nil {
		// The sender is new to the shard, or Committed removed it since
		// prepare read the state: read the account again, under the lock
		// that Committed takes, so that a block committed meanwhile is seen.
		if acct, err := p.state.Account(tx.From); err == nil && acct.Nonce >= st.Nonce {
			st = &acct
		}
		a = &account{nonce: st.Nonce, balance: st.Balance, replacedAt: uint32(p.blocks.Load())}
	}
	if tx.Nonce < a.nonce {
		return nil, chain.Rejectf(chain.ErrNonceTooLow, "address %s, tx %d, state %d", tx.From, tx.Nonce, a.nonce)
	}
	window := uint64(p.cfg.MaxPendingPerSender + p.cfg.MaxQueuedPerSender)
	if tx.Nonce-a.nonce >= window {
		return nil, chain.Rejectf(ErrNonceTooFar, "nonce %d, account nonce %d, window %d", tx.Nonce, a.nonce, window)
	}
	idx := tx.Nonce - a.nonce
	var old *entry
	if idx < uint64(len(a.pending)) {
		old = a.pending[idx]
	} else if q, ok := a.queued[tx.Nonce]; ok {
		old = q
	}
	if old != nil {
		if old.tx.Hash == tx.Hash {
			return nil, ErrAlreadyKnown
		}
		if !p.bumped(old.tx, tx) {
			return nil, chain.Rejectf(ErrReplaceUnderpriced, "need fee cap and tip %d%% above %s/%s", p.cfg.PriceBumpPercent, old.tx.FeeCap.Dec(), old.tx.TipCap.Dec())
		}
		if b := uint32(p.blocks.Load()); a.replacedAt != b {
			a.replaced, a.replacedAt = 0, b
		}
		if int(a.replaced) >= p.cfg.MaxReplacementsPerSender {
			return nil, chain.Rejectf(ErrReplaceLimit, "address %s, %d replacements, limit %d per block", tx.From, a.replaced, p.cfg.MaxReplacementsPerSender)
		}
	}
	if err := a.afford(tx, old); err != nil {
		return nil, err
	}
	if old != nil {
		a.replaced++
		a.subCost(old)
		a.addCost(e)
		sh.stamp(e)
		if old.queued {
			sh.queuedH.remove(old)
			a.queued[tx.Nonce] = e
			e.queued = true
			sh.queuedH.push(e)
		} else {
			sh.pendingH.remove(old)
			a.pending[idx] = e
			sh.pendingH.push(e)
		}
		old.live.Store(false)
		p.known.remove(old)
		e.live.Store(true)
		p.addBytes(sh, int64(tx.Size()-old.tx.Size()))
		sh.stats.replaced.Add(1)
		return old, nil
	}
	if idx == uint64(len(a.pending)) {
		if len(a.pending) >= p.cfg.MaxPendingPerSender {
			return nil, chain.Rejectf(ErrSenderPendingLimit, "%d", len(a.pending))
		}
		sh.stamp(e)
		a.pending = append(a.pending, e)
		sh.pendingH.push(e)
	} else {
		if len(a.queued) >= p.cfg.MaxQueuedPerSender {
			return nil, chain.Rejectf(ErrSenderQueuedLimit, "%d", len(a.queued))
		}
		if a.queued == nil {
			a.queued = make(map[uint64]*entry)
		}
		sh.stamp(e)
		e.queued = true
		a.queued[tx.Nonce] = e
		sh.queuedH.push(e)
	}
	a.addCost(e)
	sh.accounts[tx.From] = a
	e.live.Store(true)
	p.addCount(sh, 1)
	p.addBytes(sh, int64(tx.Size()))
	p.promoteLocked(sh, a)
	return nil, nil
}

// afford checks that the balance pays for the sender's pooled transactions
// with tx added, or put in the place of old.
func (a *account) afford(tx *chain.Tx, old *entry) error {
	need := a.cost
	if old != nil {
		oc := maxCost(old.tx)
		need.Sub(&need, &oc)
	}
	c := maxCost(tx)
	if _, overflow := need.AddOverflow(&need, &c); overflow || need.Gt(&a.balance) {
		n := len(a.pending) + len(a.queued)
		if old != nil {
			n--
		}
		return chain.Rejectf(chain.ErrInsufficientFunds, "address %s have %s want %s (%d pooled transactions cost %s)", tx.From, a.balance.Dec(), need.Dec(), n, a.cost.Dec())
	}
	return nil
}

// promoteLocked moves queued transactions that follow the pending ones into
// pending, up to the per-sender limit.
func (p *Pool) promoteLocked(sh *shard, a *account) {
	for len(a.pending) < p.cfg.MaxPendingPerSender {
		next := a.nonce + uint64(len(a.pending))
		e, ok := a.queued[next]
		if !ok {
			return
		}
		delete(a.queued, next)
		sh.queuedH.remove(e)
		e.queued = false
		a.pending = append(a.pending, e)
		sh.pendingH.push(e)
	}
	sh.stats.queued.Store(int64(len(sh.queuedH)))
}

// forget takes a dropped entry out of the hash index.
func (p *Pool) forget(e *entry) {
	e.live.Store(false)
	p.known.remove(e)
}

func (p *Pool) addCount(sh *shard, n int) {
	sh.count += n
	sh.stats.txs.Store(int64(sh.count))
	if sh.unflCnt += int64(n); sh.unflCnt >= flushStep || sh.unflCnt <= -flushStep {
		p.approxCount.Add(sh.unflCnt)
		sh.unflCnt = 0
	}
}

func (p *Pool) addBytes(sh *shard, n int64) {
	sh.bytes += n
	sh.stats.bytes.Store(sh.bytes)
	if sh.unflByte += n; sh.unflByte >= flushStep<<10 || sh.unflByte <= -flushStep<<10 {
		p.approxBytes.Add(sh.unflByte)
		sh.unflByte = 0
	}
}

// over reports whether the pool holds more than its limits allow. The
// approximate totals answer when they are clear of the limits by more than
// the shards may have left unadded; otherwise the shards' exact figures
// are summed.
func (p *Pool) over() bool {
	slack := int64(len(p.shards)) * flushStep
	if p.approxCount.Load()+slack <= int64(p.cfg.MaxTxs) && p.approxBytes.Load()+slack<<10 <= p.cfg.MaxBytes {
		return false
	}
	return p.Len() > p.cfg.MaxTxs || p.Bytes() > p.cfg.MaxBytes
}

// stamp gives e its place in the shard's arrival order.
func (sh *shard) stamp(e *entry) {
	sh.nextSeq++
	e.seq = sh.nextSeq<<8 | sh.idx
}

func (p *Pool) sinceEpoch() int64 { return int64(p.now().Sub(p.epoch)) }

// dropLocked removes e from the pool. Removing a pending transaction
// demotes the sender's later pending ones to queued; if that overflows the
// sender's queue, the highest nonces go. It returns how many transactions
// left the pool.
func (p *Pool) dropLocked(sh *shard, e *entry) int {
	tx := e.tx
	a := sh.accounts[tx.From]
	removed := 1
	if e.queued {
		delete(a.queued, tx.Nonce)
		sh.queuedH.remove(e)
	} else {
		idx := int(tx.Nonce - a.nonce)
		tail := a.pending[idx+1:]
		sh.pendingH.remove(e)
		for _, t := range tail {
			sh.pendingH.remove(t)
			t.queued = true
			if a.queued == nil {
				a.queued = make(map[uint64]*entry)
			}
			a.queued[t.tx.Nonce] = t
			sh.queuedH.push(t)
		}
		clear(a.pending[idx:])
		a.pending = a.pending[:idx]
		if over := len(a.queued) - p.cfg.MaxQueuedPerSender; over > 0 {
			// Sort once rather than search for the highest nonce each time:
			// a demoted pending run may be MaxPendingPerSender long.
			for _, top := range highestQueued(a, over) {
				delete(a.queued, top.tx.Nonce)
				sh.queuedH.remove(top)
				top.evicted = true
				a.subCost(top)
				p.forget(top)
				p.addCount(sh, -1)
				p.addBytes(sh, -int64(top.tx.Size()))
				sh.stats.evicted.Add(1)
				removed++
			}
		}
	}
	a.subCost(e)
	p.forget(e)
	p.addCount(sh, -1)
	p.addBytes(sh, -int64(tx.Size()))
	if len(a.pending) == 0 && len(a.queued) == 0 {
		delete(sh.accounts, tx.From)
	}
	sh.stats.queued.Store(int64(len(sh.queuedH)))
	return removed
}

// highestQueued returns the n queued entries of a with the highest nonces,
// highest first.
func highestQueued(a *account, n int) []*entry {
	all := make([]*entry, 0, len(a.queued))
	for _, q := range a.queued {
		all = append(all, q)
	}
	slices.SortFunc(all, func(x, y *entry) int { return cmp.Compare(y.tx.Nonce, x.tx.Nonce) })
	return all[:min(n, len(all))]
}

// cheapestLocked returns the shard's eviction candidate.
func (sh *shard) cheapestLocked(allowPending bool) *entry {
	c := sh.queuedH.min()
	if allowPending {
		if pc := sh.pendingH.min(); pc != nil && (c == nil || cheaper(pc, c)) {
			c = pc
		}
	}
	return c
}

// evictLocked evicts the shard's cheapest transaction and returns it.
func (p *Pool) evictLocked(sh *shard, allowPending bool) *entry {
	v := sh.cheapestLocked(allowPending)
	if v == nil {
		return nil
	}
	p.dropLocked(sh, v)
	v.evicted = true
	sh.stats.evicted.Add(1)
	return v
}

// evictGlobal evicts the cheapest transaction of the whole pool, looking at
// each shard's candidate in turn. It reports whether it evicted one.
func (p *Pool) evictGlobal(allowPending bool) bool {
	for attempt := 0; attempt < 8; attempt++ {
		var best *entry
		var bestShard *shard
		for _, sh := range p.shards {
			sh.mu.Lock()
			if c := sh.cheapestLocked(allowPending); c != nil && (best == nil || cheaper(c, best)) {
				best, bestShard = c, sh
			}
			sh.mu.Unlock()
		}
		if best == nil {
			return false
		}
		bestShard.mu.Lock()
		// Another admission may have evicted or promoted it meanwhile.
		still := best.heapIdx >= 0 && (allowPending || best.queued)
		if still {
			p.dropLocked(bestShard, best)
			best.evicted = true
			bestShard.stats.evicted.Add(1)
		}
		bestShard.mu.Unlock()
		if still {
			return true
		}
	}
	return false
}

// Len returns the number of transactions held.
func (p *Pool) Len() int {
	n := int64(0)
	for _, sh := range p.shards {
		n += sh.stats.txs.Load()
	}
	return int(n)
}

// Pending returns the number of executable transactions held: those a
// block could include next, not those waiting behind a nonce gap.
func (p *Pool) Pending() int {
	n := int64(0)
	for _, sh := range p.shards {
		n += sh.stats.txs.Load() - sh.stats.queued.Load()
	}
	return int(max(n, 0))
}

// Bytes returns the bytes of transaction encodings held.
func (p *Pool) Bytes() int64 {
	n := int64(0)
	for _, sh := range p.shards {
		n += sh.stats.bytes.Load()
	}
	return n
}

// Get returns a pooled transaction by hash.
func (p *Pool) Get(h chain.Hash) (*chain.Tx, bool) {
	e := p.known.get(h)
	if e == nil {
		return nil, false
	}
	return e.tx, true
}

// Sender returns the recovered sender of a pooled transaction; it has the
// shape of chain.SenderLookup.
func (p *Pool) Sender(h chain.Hash) (chain.Address, bool) {
	tx, ok := p.Get(h)
	if !ok {
		return chain.Address{}, false
	}
	return tx.From, true
}

// PendingNonce returns the nonce after the sender's pending transactions;
// ok is false if the pool holds none of the sender's transactions.
func (p *Pool) PendingNonce(sender chain.Address) (nonce uint64, ok bool) {
	sh := p.shards[p.ShardOf(sender)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	a := sh.accounts[sender]
	if a == nil {
		return 0, false
	}
	return a.nonce + uint64(len(a.pending)), true
}

// ShardStats describes one shard.
type ShardStats struct {
	Shard   int   `json:"shard"`
	Senders int   `json:"senders"`
	Pending int   `json:"pending"`
	Queued  int   `json:"queued"`
	Bytes   int64 `json:"bytes"`
}

// Stats returns a snapshot of every shard.
func (p *Pool) Stats() []ShardStats {
	out := make([]ShardStats, len(p.shards))
	for i, sh := range p.shards {
		sh.mu.Lock()
		out[i] = ShardStats{Shard: i, Senders: len(sh.accounts), Pending: len(sh.pendingH), Queued: len(sh.queuedH), Bytes: sh.bytes}
		sh.mu.Unlock()
	}
	return out
}
