package explorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// Indexer follows a node and writes its blocks into PostgreSQL.
type Indexer struct {
	cfg   Config
	db    *DB
	src   *source
	cache *Cache
	m     *Metrics
	log   *slog.Logger

	win      *window
	vals     map[string]rpc.Validator // by id (lower-case address)
	valsSeen string                   // the set last read from the node
	valsKey  string                   // the set last written to the database
	valsAt   time.Time
	height   int64 // last indexed height, -1 before the first block
	hash     chain.Hash
	nodeHead atomic.Int64
	indexed  atomic.Int64

	chainID  uint64
	genesis  chain.Hash
	caughtUp chan struct{} // closed when the index first reaches the node's head
	caught   bool
	onBatch  func(first, last uint64) // called after each committed batch
}

func newIndexer(cfg Config, db *DB, cache *Cache, m *Metrics, log *slog.Logger) *Indexer {
	ix := &Indexer{cfg: cfg, db: db, src: newSource(cfg), cache: cache, m: m, log: log.With("module", "explorer"),
		win: newWindow(cfg.ReputationWindow), height: -1, caughtUp: make(chan struct{})}
	ix.indexed.Store(-1)
	ix.nodeHead.Store(-1)
	return ix
}

// IndexedHeight is the last indexed height, -1 before the first block.
func (ix *Indexer) IndexedHeight() int64 { return ix.indexed.Load() }

// NodeHeight is the node's head as last seen, -1 before any answer.
func (ix *Indexer) NodeHeight() int64 { return ix.nodeHead.Load() }

// CaughtUp is closed once the index first reaches the node's head.
func (ix *Indexer) CaughtUp() <-chan struct{} { return ix.caughtUp }

func idOf(a chain.Address) string { return strings.ToLower(a.Hex()) }

// Run indexes until ctx ends or the chain cannot be indexed (ErrForkDetected,
// ErrOtherChain). A node that is down only pauses it.
func (ix *Indexer) Run(ctx context.Context) error {
	// One indexer per database: others serve the API and wait here.
	conn, err := ix.db.Primary().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("explorer: indexer lock: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(indexerLock)).Scan(&got); err != nil {
		return fmt.Errorf("explorer: indexer lock: %w", err)
	}
	if !got {
		ix.log.Info("another explorer indexes this database; serving the API and waiting to take over")
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(indexerLock)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("explorer: indexer lock: %w", err)
		}
		ix.log.Info("this explorer now indexes the database")
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(indexerLock)) //nolint:errcheck // released with the session anyway
	for {
		err := ix.start(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, ErrOtherChain) || ctx.Err() != nil {
			return err
		}
		ix.nodeDown(err)
		if !sleep(ctx, ix.cfg.RetryInterval) {
			return ctx.Err()
		}
	}
	heads := make(chan uint64, 1)
	go ix.followHeads(ctx, heads)
	poll := time.NewTicker(ix.cfg.PollInterval)
	defer poll.Stop()
	down := false
	for {
		head, err := ix.src.head(ctx)
		if err == nil && down {
			// The node is back: it may be another chain now (a devnet
			// started afresh on the same address).
			err = ix.sameChain(ctx)
			if errors.Is(err, ErrOtherChain) {
				ix.log.Error("indexer stopped", "err", err)
				return err
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			down = true
			ix.nodeDown(err)
			if !sleep(ctx, ix.cfg.RetryInterval) {
				return ctx.Err()
			}
			continue
		}
		if down {
			down = false
			ix.log.Info("node reachable again; indexing resumes", "rpc", ix.cfg.RPC)
		}
		ix.nodeUp(head)
		if int64(head) > ix.height {
			err := ix.catchUp(ctx, uint64(ix.height+1), head)
			switch {
			case errors.Is(err, ErrForkDetected), errors.Is(err, ErrOtherChain):
				ix.log.Error("indexer stopped", "err", err)
				return err
			case errors.Is(err, errMoved):
				ix.log.Warn("index position moved; reloading it", "err", err)
				if err := ix.start(ctx); err != nil && !errors.Is(err, ErrOtherChain) {
					ix.log.Warn("reloading the index position failed", "err", err)
				} else if err != nil {
					return err
				}
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				ix.m.NodeErrors.Inc()
				ix.log.Warn("indexing paused", "err", err)
				if !sleep(ctx, ix.cfg.RetryInterval) {
					return ctx.Err()
				}
			}
			continue
		}
		if !ix.caught {
			ix.caught = true
			close(ix.caughtUp)
			ix.log.Info("index caught up with the node", "height", ix.height)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-heads:
		case <-poll.C:
		}
	}
}

func (ix *Indexer) nodeDown(err error) {
	ix.m.NodeUp.Set(0)
	ix.m.NodeErrors.Inc()
	ix.log.Warn("node unreachable; indexing paused", "rpc", ix.cfg.RPC, "err", err)
}

func (ix *Indexer) nodeUp(head uint64) {
	ix.m.NodeUp.Set(1)
	ix.nodeHead.Store(int64(head))
	ix.m.NodeHeight.Set(float64(head))
	ix.m.BlocksBehind.Set(float64(int64(head) - ix.height))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// followHeads keeps a newHeads subscription open, resubscribing after a
// failure, and wakes the indexer on every head.
func (ix *Indexer) followHeads(ctx context.Context, heads chan<- uint64) {
	for ctx.Err() == nil {
		err := ix.src.subscribeHeads(ctx, heads)
		if ctx.Err() != nil {
			return
		}
		ix.log.Debug("newHeads subscription ended; polling until it is back", "err", err)
		if !sleep(ctx, ix.cfg.RetryInterval) {
			return
		}
	}
}

// sameChain checks that the node still serves the chain being indexed.
func (ix *Indexer) sameChain(ctx context.Context) error {
	info, err := ix.src.status(ctx)
	if err != nil {
		return err
	}
	if info.ChainID != ix.chainID || info.GenesisHash != ix.genesis {
		return fmt.Errorf("%w: indexing chain %d genesis %s, the node now has chain %d genesis %s",
			ErrOtherChain, ix.chainID, ix.genesis, info.ChainID, info.GenesisHash)
	}
	return nil
}

// start checks the chain's identity against the database and loads the
// position and the reputation window.
func (ix *Indexer) start(ctx context.Context) error {
	info, err := ix.src.status(ctx)
	if err != nil {
		return err
	}
	p := ix.db.Primary()
	_, err = p.Exec(ctx, `INSERT INTO indexer_state (chain_id, genesis_hash) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
		int64(info.ChainID), info.GenesisHash.Bytes())
	if err != nil {
		return fmt.Errorf("explorer: indexer state: %w", err)
	}
	var chainID int64
	var genesis, hash []byte
	var height *int64
	err = p.QueryRow(ctx, `SELECT chain_id, genesis_hash, height, hash FROM indexer_state`).Scan(&chainID, &genesis, &height, &hash)
	if err != nil {
		return fmt.Errorf("explorer: indexer state: %w", err)
	}
	if uint64(chainID) != info.ChainID || common.BytesToHash(genesis) != info.GenesisHash {
		return fmt.Errorf("%w: database has chain %d genesis %x, node has chain %d genesis %s",
			ErrOtherChain, chainID, genesis, info.ChainID, info.GenesisHash)
	}
	ix.chainID, ix.genesis = info.ChainID, info.GenesisHash
	ix.height = -1
	if height != nil {
		ix.height, ix.hash = *height, common.BytesToHash(hash)
	}
	ix.indexed.Store(ix.height)
	ix.m.IndexedHeight.Set(float64(ix.height))
	ix.win = newWindow(ix.cfg.ReputationWindow)
	rows, err := p.Query(ctx, `SELECT proposer_id, signers FROM blocks WHERE height > $1 ORDER BY height`,
		ix.height-int64(ix.cfg.ReputationWindow))
	if err != nil {
		return fmt.Errorf("explorer: loading the reputation window: %w", err)
	}
	var proposer string
	var signers []string
	_, err = pgx.ForEachRow(rows, []any{&proposer, &signers}, func() error {
		ix.win.add(proposer, signers)
		return nil
	})
	if err != nil {
		return fmt.Errorf("explorer: loading the reputation window: %w", err)
	}
	ix.log.Info("indexer starts", "chain_id", info.ChainID, "indexed_height", ix.height, "node_height", info.Height)
	return nil
}

// indexerLock is the advisory lock held by the one indexer of a database.
const indexerLock = 0x6269_7a72_6101

// errMoved means the stored position moved under the indexer.
var errMoved = errors.New("explorer: the index moved under this indexer")

// chunkTxs is the number of transactions one fetch aims at.
const chunkTxs = 10_000

type chunk struct {
	blocks []*Block
	err    error
}

// catchUp indexes from..to: workers fetch chunks in parallel, the writer
// takes them in order and writes a batch every BatchBlocks blocks or
// BatchTxs transactions.
func (ix *Indexer) catchUp(ctx context.Context, from, to uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := to-from < 2 // following the head rather than backfilling
	// At most FetchWorkers fetches run at once and 2 × FetchWorkers chunks
	// wait for the writer. A chunk aims at chunkTxs transactions (judged by
	// the last chunk fetched), so memory stays bounded when blocks are full.
	order := make(chan chan chunk, 2*ix.cfg.FetchWorkers)
	sem := make(chan struct{}, ix.cfg.FetchWorkers)
	var perBlock atomic.Int64 // transactions per block in the last chunk
	go func() {
		defer close(order)
		for a := from; a <= to; {
			step := uint64(ix.cfg.FetchBlocks)
			if n := perBlock.Load(); n > 0 {
				step = uint64(min(max(chunkTxs/n, 1), int64(ix.cfg.FetchBlocks)))
			}
			b := min(a+step-1, to)
			ch := make(chan chunk, 1)
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func(a, b uint64) {
				defer func() { <-sem }()
				bs, err := ix.src.fetch(ctx, a, b)
				if err == nil {
					n := 0
					for _, blk := range bs {
						n += len(blk.Txs)
					}
					perBlock.Store(int64(n/len(bs)) + 1)
				}
				if live && err == nil {
					now := time.Now()
					for _, blk := range bs {
						blk.SeenAt = now
					}
				}
				ch <- chunk{bs, err}
			}(a, b)
			a = b + 1
		}
	}()
	var batch []*Block
	txs := 0
	for ch := range order {
		var c chunk
		select {
		case c = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.err != nil {
			return c.err
		}
		for _, b := range c.blocks {
			batch = append(batch, b)
			txs += len(b.Txs)
			if len(batch) >= ix.cfg.BatchBlocks || txs >= ix.cfg.BatchTxs {
				if err := ix.write(ctx, batch); err != nil {
					return err
				}
				batch, txs = batch[:0], 0
			}
		}
	}
	if len(batch) > 0 {
		return ix.write(ctx, batch)
	}
	return nil
}

// refreshValidators reads the node's validator set at most every ten
// seconds, and tells whether it differs from the set last written.
func (ix *Indexer) refreshValidators(ctx context.Context) (changed bool, err error) {
	if ix.vals != nil && time.Since(ix.valsAt) < 10*time.Second {
		return ix.valsSeen != ix.valsKey, nil
	}
	vs, err := ix.src.validators(ctx)
	if err != nil {
		return false, err
	}
	var key strings.Builder
	vals := make(map[string]rpc.Validator, len(vs))
	for _, v := range vs {
		id := idOf(v.Address)
		vals[id] = v
		fmt.Fprintf(&key, "%s/%s/%d/%d;", id, v.Name, v.Stake, v.Committee)
	}
	ix.vals, ix.valsAt, ix.valsSeen = vals, time.Now(), key.String()
	return ix.valsSeen != ix.valsKey, nil
}

func numeric(x *big.Int) pgtype.Numeric { return pgtype.Numeric{Int: x, Exp: 0, Valid: true} }

func numericU64(x uint64) pgtype.Numeric { return numeric(new(big.Int).SetUint64(x)) }

// write stores blocks (consecutive heights) and what they change in one
// transaction. Blocks at or below the stored position are dropped, so a
// replay writes nothing twice.
func (ix *Indexer) write(ctx context.Context, blocks []*Block) error {
	start := time.Now()
	valsChanged, err := ix.refreshValidators(ctx)
	if err != nil {
		return fmt.Errorf("explorer: reading validators: %w", err)
	}
	var win *window
	var changedVals []string
	var nTxs int
	err = pgx.BeginFunc(ctx, ix.db.Primary(), func(tx pgx.Tx) error {
		var height *int64
		var hash []byte
		if err := tx.QueryRow(ctx, `SELECT height, hash FROM indexer_state FOR UPDATE`).Scan(&height, &hash); err != nil {
			return err
		}
		cur := int64(-1)
		if height != nil {
			cur = *height
		}
		if cur != ix.height {
			// The stored position is not where this indexer left it (a
			// commit whose answer was lost): its window and position must be
			// read again before it writes.
			return fmt.Errorf("%w: stored height %d, indexer at %d", errMoved, cur, ix.height)
		}
		for len(blocks) > 0 && int64(blocks[0].Height) <= cur {
			blocks = blocks[1:]
		}
		if len(blocks) == 0 {
			return nil
		}
		prev := common.BytesToHash(hash)
		for i, b := range blocks {
			want := cur + 1 + int64(i)
			if int64(b.Height) != want {
				return fmt.Errorf("explorer: expected block %d, got %d", want, b.Height)
			}
			if want > 0 && b.Parent != prev {
				return fmt.Errorf("%w: block %d has parent %s, but block %d indexed is %s", ErrForkDetected, b.Height, b.Parent, want-1, prev)
			}
			prev = b.Hash
		}
		last := int64(blocks[len(blocks)-1].Height)
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"blocks"},
			[]string{"height", "hash", "parent_hash", "proposer_id", "timestamp", "round", "tx_count", "gas_used", "signers", "signed_stake", "total_stake", "seen_at"},
			pgx.CopyFromSlice(len(blocks), func(i int) ([]any, error) {
				b := blocks[i]
				var seen *time.Time
				if !b.SeenAt.IsZero() {
					seen = &b.SeenAt
				}
				signers := b.Signers
				if signers == nil {
					signers = []string{}
				}
				return []any{int64(b.Height), b.Hash.Bytes(), b.Parent.Bytes(), idOf(b.Proposer), time.UnixMilli(int64(b.TimestampMs)),
					int64(b.Round), int32(len(b.Txs)), int64(b.GasUsed), signers, numericU64(b.SignedStake), numericU64(b.TotalStake), seen}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy blocks: %w", err)
		}
		ix.m.RowsWritten.WithLabelValues("blocks").Add(float64(n))
		bi, ti := 0, 0
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"transactions"},
			[]string{"hash", "block_height", "block_hash", "idx", "sender", "receiver", "amount", "nonce", "fee", "gas_price", "status"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for bi < len(blocks) && ti >= len(blocks[bi].Txs) {
					bi, ti = bi+1, 0
				}
				if bi == len(blocks) {
					return nil, nil
				}
				b, t := blocks[bi], &blocks[bi].Txs[ti]
				ti++
				return []any{t.Hash.Bytes(), int64(b.Height), b.Hash.Bytes(), int32(ti - 1), t.From.Bytes(), t.To.Bytes(),
					numeric(t.Value), int64(t.Nonce), numeric(t.Fee), numeric(t.GasPrice), int16(t.Status)}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy transactions: %w", err)
		}
		nTxs = int(n)
		ix.m.RowsWritten.WithLabelValues("transactions").Add(float64(n))
		win, changedVals, err = ix.updateValidators(ctx, tx, blocks, valsChanged)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE indexer_state SET height = $1, hash = $2, total_transactions = total_transactions + $3, updated_at = now()`,
			last, blocks[len(blocks)-1].Hash.Bytes(), int64(nTxs))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrForkDetected) || errors.Is(err, errMoved) {
			return err
		}
		return fmt.Errorf("explorer: writing blocks: %w", err)
	}
	if len(blocks) == 0 {
		return nil
	}
	lastB := blocks[len(blocks)-1]
	ix.win, ix.height, ix.hash = win, int64(lastB.Height), lastB.Hash
	if valsChanged {
		ix.valsKey = ix.valsSeen // written with this batch
	}
	ix.indexed.Store(ix.height)
	ix.m.IndexedHeight.Set(float64(ix.height))
	ix.m.BlocksBehind.Set(float64(max(0, ix.nodeHead.Load()-ix.height)))
	ix.m.BatchSeconds.Observe(time.Since(start).Seconds())
	keys := []string{keyLatestBlocks, keyLatestTxs, keyStats}
	if len(changedVals) > 0 || valsChanged {
		keys = append(keys, keyActiveValidators)
		for _, id := range changedVals {
			keys = append(keys, keyValidator(id))
		}
	}
	ix.cache.Invalidate(ctx, keys...)
	ix.log.Debug("indexed", "from", blocks[0].Height, "to", lastB.Height, "txs", nTxs, "took", time.Since(start))
	if ix.onBatch != nil {
		ix.onBatch(blocks[0].Height, lastB.Height)
	}
	return nil
}

// updateValidators writes the validator set when it changed, and the
// counters and scores the blocks change. It returns the window after the
// blocks and the ids of the validators whose rows changed.
func (ix *Indexer) updateValidators(ctx context.Context, tx pgx.Tx, blocks []*Block, setChanged bool) (*window, []string, error) {
	var total uint64
	for _, v := range ix.vals {
		total += uint64(v.Stake)
	}
	if setChanged {
		var ids, names, statuses []string
		var stakes []pgtype.Numeric
		var committees []int32
		var keys [][]byte
		for id, v := range ix.vals {
			ids, names, statuses = append(ids, id), append(names, v.Name), append(statuses, "active")
			stakes, committees, keys = append(stakes, numericU64(uint64(v.Stake))), append(committees, int32(v.Committee)), append(keys, v.PubKey)
		}
		_, err := tx.Exec(ctx, `INSERT INTO validators (id, name, pubkey, status, stake, committee)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::numeric[], $6::int[])
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, pubkey = EXCLUDED.pubkey, status = 'active',
				stake = EXCLUDED.stake, committee = EXCLUDED.committee`, ids, names, keys, statuses, stakes, committees)
		if err != nil {
			return nil, nil, fmt.Errorf("validators: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE validators SET status = 'inactive' WHERE status = 'active' AND NOT id = ANY($1)`, ids); err != nil {
			return nil, nil, fmt.Errorf("validators: %w", err)
		}
	}
	before := ix.win
	win := before.clone()
	proposed := map[string]int64{}
	for _, b := range blocks {
		id := idOf(b.Proposer)
		win.add(id, b.Signers)
		if _, ok := ix.vals[id]; ok {
			proposed[id]++
		}
	}
	var ids []string
	var counts []int64
	var parts []pgtype.Float8
	var reps []float64
	for id, v := range ix.vals {
		share := 0.0
		if total > 0 {
			share = float64(v.Stake) / float64(total)
		}
		p0, r0 := before.score(id, v.Name, share)
		p1, r1 := win.score(id, v.Name, share)
		if proposed[id] == 0 && r0 == r1 && samePart(p0, p1) && !setChanged {
			continue
		}
		ids, counts, reps = append(ids, id), append(counts, proposed[id]), append(reps, r1)
		if p1 != nil {
			parts = append(parts, pgtype.Float8{Float64: *p1, Valid: true})
		} else {
			parts = append(parts, pgtype.Float8{})
		}
	}
	if len(ids) > 0 {
		_, err := tx.Exec(ctx, `UPDATE validators v SET blocks_proposed = v.blocks_proposed + u.p, participation = u.part,
			reputation = u.rep, updated_height = $5
			FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[]) AS u(id, p, part, rep) WHERE v.id = u.id`,
			ids, counts, parts, reps, int64(blocks[len(blocks)-1].Height))
		if err != nil {
			return nil, nil, fmt.Errorf("validators: %w", err)
		}
	}
	return win, ids, nil
}

func samePart(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
