package explorer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
)

// API shapes. Amounts in wei are decimal strings; times are milliseconds
// since the Unix epoch.

// BlockJSON is a block in the API.
type BlockJSON struct {
	Height       uint64   `json:"height"`
	Hash         string   `json:"hash"`
	ParentHash   string   `json:"parentHash"`
	Proposer     string   `json:"proposer"`
	ProposerName string   `json:"proposerName"`
	Timestamp    int64    `json:"timestamp"`
	TxCount      int      `json:"txCount"`
	GasUsed      int64    `json:"gasUsed"`
	Round        int64    `json:"round"`
	Signers      []string `json:"signers"`
	SignedStake  string   `json:"signedStake"`
	TotalStake   string   `json:"totalStake"`
	Transactions []TxJSON `json:"transactions,omitempty"`
}

// TxJSON is a transaction in the API.
type TxJSON struct {
	Hash        string `json:"hash"`
	BlockHeight uint64 `json:"blockHeight"`
	BlockHash   string `json:"blockHash"`
	Index       int    `json:"index"`
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"`
	Nonce       uint64 `json:"nonce"`
	Fee         string `json:"fee"`
	GasPrice    string `json:"gasPrice"`
	Status      string `json:"status"`
	Timestamp   int64  `json:"timestamp"`
}

// ValidatorJSON is a validator in the API.
type ValidatorJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Address        string   `json:"address"`
	Status         string   `json:"status"`
	Stake          string   `json:"stake"`
	Reputation     float64  `json:"reputation"`
	Committee      int      `json:"committee"`
	BlocksProposed int64    `json:"blocksProposed"`
	Participation  *float64 `json:"participation"`
}

// LeaderJSON is a leaderboard row.
type LeaderJSON struct {
	Rank           int64   `json:"rank"`
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Reputation     float64 `json:"reputation"`
	Stake          string  `json:"stake"`
	BlocksProposed int64   `json:"blocksProposed"`
}

// StatsJSON is the chain's statistics over recent blocks.
type StatsJSON struct {
	Height            int64        `json:"height"`
	HeadHash          string       `json:"headHash"`
	NodeHeight        int64        `json:"nodeHeight"`
	Behind            int64        `json:"behind"`
	TotalTransactions int64        `json:"totalTransactions"`
	TxPerSecond       float64      `json:"txPerSecond"`
	BlockIntervalMs   float64      `json:"blockIntervalMs"`
	FinalityMs        *float64     `json:"finalityMs"`
	Series            []StatsPoint `json:"series"`
}

// StatsPoint is one block of the stats series.
type StatsPoint struct {
	Height     uint64 `json:"height"`
	Timestamp  int64  `json:"timestamp"`
	TxCount    int    `json:"txCount"`
	IntervalMs *int64 `json:"intervalMs"`
}

// Store answers the API's questions from PostgreSQL.
type Store struct {
	db *DB
}

func hexOf(b []byte) string { return "0x" + common.Bytes2Hex(b) }

const blockCols = `b.height, b.hash, b.parent_hash, b.proposer_id, COALESCE(v.name, ''), b."timestamp", b.tx_count,
	b.gas_used, b.round, b.signers, b.signed_stake::text, b.total_stake::text`

func scanBlock(row pgx.Row) (BlockJSON, error) {
	var b BlockJSON
	var hash, parent []byte
	var ts time.Time
	var height int64
	err := row.Scan(&height, &hash, &parent, &b.Proposer, &b.ProposerName, &ts, &b.TxCount, &b.GasUsed, &b.Round,
		&b.Signers, &b.SignedStake, &b.TotalStake)
	b.Height, b.Hash, b.ParentHash, b.Timestamp = uint64(height), hexOf(hash), hexOf(parent), ts.UnixMilli()
	if b.Signers == nil {
		b.Signers = []string{}
	}
	return b, err
}

const txCols = `t.hash, t.block_height, t.block_hash, t.idx, t.sender, t.receiver, t.amount::text, t.nonce, t.fee::text,
	t.gas_price::text, t.status, b."timestamp"`

func scanTx(row pgx.Row) (TxJSON, error) {
	var t TxJSON
	var hash, bhash, from, to []byte
	var height, nonce int64
	var status int16
	var ts time.Time
	err := row.Scan(&hash, &height, &bhash, &t.Index, &from, &to, &t.Value, &nonce, &t.Fee, &t.GasPrice, &status, &ts)
	t.Hash, t.BlockHeight, t.BlockHash, t.From, t.To = hexOf(hash), uint64(height), hexOf(bhash), hexOf(from), hexOf(to)
	t.Nonce, t.Timestamp = uint64(nonce), ts.UnixMilli()
	t.Status = "failed"
	if status == 1 {
		t.Status = "success"
	}
	return t, err
}

func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// LatestBlocks returns up to limit blocks below height before (all when
// before < 0), newest first.
func (s *Store) LatestBlocks(ctx context.Context, limit int, before int64) ([]BlockJSON, error) {
	var out []BlockJSON
	err := s.db.read(ctx, func(q querier) error {
		var rows pgx.Rows
		var err error
		if before < 0 {
			rows, err = q.Query(ctx, `SELECT `+blockCols+` FROM blocks b LEFT JOIN validators v ON v.id = b.proposer_id
				ORDER BY b.height DESC LIMIT $1`, limit)
		} else {
			rows, err = q.Query(ctx, `SELECT `+blockCols+` FROM blocks b LEFT JOIN validators v ON v.id = b.proposer_id
				WHERE b.height < $1 ORDER BY b.height DESC LIMIT $2`, before, limit)
		}
		if err != nil {
			return err
		}
		out, err = collect(rows, scanBlock)
		return err
	})
	return out, err
}

// Block returns a block, by height or hash, with its transactions.
func (s *Store) Block(ctx context.Context, height int64, hash []byte) (BlockJSON, error) {
	var b BlockJSON
	err := s.db.read(ctx, func(q querier) error {
		var err error
		if hash != nil {
			b, err = scanBlock(q.QueryRow(ctx, `SELECT `+blockCols+` FROM blocks b LEFT JOIN validators v ON v.id = b.proposer_id
				WHERE b.hash = $1`, hash))
		} else {
			b, err = scanBlock(q.QueryRow(ctx, `SELECT `+blockCols+` FROM blocks b LEFT JOIN validators v ON v.id = b.proposer_id
				WHERE b.height = $1`, height))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT `+txCols+` FROM transactions t JOIN blocks b ON b.height = t.block_height
			WHERE t.block_height = $1 ORDER BY t.idx`, int64(b.Height))
		if err != nil {
			return err
		}
		b.Transactions, err = collect(rows, scanTx)
		return err
	})
	return b, err
}

// LatestTxs returns the latest limit transactions, newest first.
func (s *Store) LatestTxs(ctx context.Context, limit int) ([]TxJSON, error) {
	var out []TxJSON
	err := s.db.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+txCols+` FROM transactions t JOIN blocks b ON b.height = t.block_height
			ORDER BY t.block_height DESC, t.idx DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanTx)
		return err
	})
	return out, err
}

// Tx returns a transaction by hash.
func (s *Store) Tx(ctx context.Context, hash []byte) (TxJSON, error) {
	var t TxJSON
	err := s.db.read(ctx, func(q querier) error {
		var err error
		t, err = scanTx(q.QueryRow(ctx, `SELECT `+txCols+` FROM transactions t JOIN blocks b ON b.height = t.block_height
			WHERE t.hash = $1`, hash))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	return t, err
}

// AddressJSON is an address's activity.
type AddressJSON struct {
	Address      string   `json:"address"`
	Sent         int64    `json:"sent"`
	Received     int64    `json:"received"`
	Transactions []TxJSON `json:"transactions"`
	Next         *string  `json:"next"`
}

// Address returns counts and a page of an address's transactions, newest
// first, strictly before the position (height, index) when height >= 0.
func (s *Store) Address(ctx context.Context, addr []byte, limit int, height int64, index int) (AddressJSON, error) {
	out := AddressJSON{Address: hexOf(addr)}
	if height < 0 {
		height, index = 1<<62, 0
	}
	err := s.db.read(ctx, func(q querier) error {
		// An account's committed nonces run 0, 1, 2, … and the index holds
		// every block from genesis, so its highest nonce counts what it
		// sent, read from the end of the (sender, nonce) index.
		if err := q.QueryRow(ctx, `SELECT COALESCE((SELECT nonce + 1 FROM transactions WHERE sender = $1 ORDER BY nonce DESC LIMIT 1), 0),
			(SELECT count(*) FROM transactions WHERE receiver = $1)`, addr).Scan(&out.Sent, &out.Received); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT `+txCols+` FROM (
				-- A sender's nonces grow with time: the (sender, nonce) index
				-- gives its transactions newest first without a sort.
				(SELECT * FROM transactions WHERE sender = $1 AND (block_height, idx) < ($2, $3)
					ORDER BY nonce DESC LIMIT $4)
				UNION ALL
				(SELECT * FROM transactions WHERE receiver = $1 AND sender <> $1 AND (block_height, idx) < ($2, $3)
					ORDER BY block_height DESC, idx DESC LIMIT $4)
			) t JOIN blocks b ON b.height = t.block_height ORDER BY t.block_height DESC, t.idx DESC LIMIT $4`,
			addr, height, index, limit+1)
		if err != nil {
			return err
		}
		out.Transactions, err = collect(rows, scanTx)
		return err
	})
	if err != nil {
		return out, err
	}
	if len(out.Transactions) > limit {
		out.Transactions = out.Transactions[:limit]
		last := out.Transactions[limit-1]
		next := fmt.Sprintf("%d-%d", last.BlockHeight, last.Index)
		out.Next = &next
	}
	return out, nil
}

const validatorCols = `id, name, status, stake::text, reputation, committee, blocks_proposed, participation`

func scanValidator(row pgx.Row) (ValidatorJSON, error) {
	var v ValidatorJSON
	var committee int32
	err := row.Scan(&v.ID, &v.Name, &v.Status, &v.Stake, &v.Reputation, &committee, &v.BlocksProposed, &v.Participation)
	v.Address, v.Committee = v.ID, int(committee)
	return v, err
}

// ActiveValidators returns the active validators by stake.
func (s *Store) ActiveValidators(ctx context.Context) ([]ValidatorJSON, error) {
	var out []ValidatorJSON
	err := s.db.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+validatorCols+` FROM validators WHERE status = 'active'
			ORDER BY stake DESC, id`)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanValidator)
		return err
	})
	return out, err
}

// Validator returns one validator by id (its lower-case address).
func (s *Store) Validator(ctx context.Context, id string) (ValidatorJSON, error) {
	var v ValidatorJSON
	err := s.db.read(ctx, func(q querier) error {
		var err error
		v, err = scanValidator(q.QueryRow(ctx, `SELECT `+validatorCols+` FROM validators WHERE id = $1`, strings.ToLower(id)))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	return v, err
}

// TopValidators returns the n validators with the highest reputation (for
// cache warming).
func (s *Store) TopValidators(ctx context.Context, n int) ([]ValidatorJSON, error) {
	var out []ValidatorJSON
	err := s.db.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+validatorCols+` FROM validators ORDER BY reputation DESC, id LIMIT $1`, n)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanValidator)
		return err
	})
	return out, err
}

// Leaderboard returns the first n rows of the materialized leaderboard and
// when it was last refreshed.
func (s *Store) Leaderboard(ctx context.Context, n int) ([]LeaderJSON, *int64, error) {
	var out []LeaderJSON
	var refreshed *time.Time
	err := s.db.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT rank, id, name, reputation, stake::text, blocks_proposed FROM validator_leaderboard
			ORDER BY rank, id LIMIT $1`, n)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r pgx.Row) (LeaderJSON, error) {
			var l LeaderJSON
			err := r.Scan(&l.Rank, &l.ID, &l.Name, &l.Reputation, &l.Stake, &l.BlocksProposed)
			return l, err
		})
		if err != nil {
			return err
		}
		err = q.QueryRow(ctx, `SELECT leaderboard_refreshed FROM indexer_state`).Scan(&refreshed)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	var at *int64
	if refreshed != nil {
		ms := refreshed.UnixMilli()
		at = &ms
	}
	return out, at, err
}

// RefreshLeaderboard refreshes the materialized view concurrently (readers
// keep reading the old rows meanwhile) on the primary.
func (s *Store) RefreshLeaderboard(ctx context.Context) error {
	p := s.db.Primary()
	if _, err := p.Exec(ctx, `REFRESH MATERIALIZED VIEW CONCURRENTLY validator_leaderboard`); err != nil {
		return fmt.Errorf("explorer: refreshing the leaderboard: %w", err)
	}
	_, err := p.Exec(ctx, `UPDATE indexer_state SET leaderboard_refreshed = now()`)
	return err
}

// Stats computes the statistics over the last n blocks.
func (s *Store) Stats(ctx context.Context, n int) (StatsJSON, error) {
	st := StatsJSON{Height: -1, Series: []StatsPoint{}}
	type row struct {
		height int64
		ts     time.Time
		txs    int
		seenAt *time.Time
		hash   []byte
	}
	var rows []row
	err := s.db.read(ctx, func(q querier) error {
		err := q.QueryRow(ctx, `SELECT COALESCE(height, -1), total_transactions FROM indexer_state`).Scan(&st.Height, &st.TotalTransactions)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rs, err := q.Query(ctx, `SELECT height, "timestamp", tx_count, seen_at, hash FROM blocks ORDER BY height DESC LIMIT $1`, n)
		if err != nil {
			return err
		}
		rows, err = collect(rs, func(r pgx.Row) (row, error) {
			var x row
			err := r.Scan(&x.height, &x.ts, &x.txs, &x.seenAt, &x.hash)
			return x, err
		})
		return err
	})
	if err != nil {
		return st, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].height < rows[j].height })
	var finality []float64
	for i, r := range rows {
		p := StatsPoint{Height: uint64(r.height), Timestamp: r.ts.UnixMilli(), TxCount: r.txs}
		if i > 0 && rows[i-1].height == r.height-1 {
			d := r.ts.UnixMilli() - rows[i-1].ts.UnixMilli()
			p.IntervalMs = &d
		}
		if r.seenAt != nil {
			finality = append(finality, float64(r.seenAt.Sub(r.ts).Milliseconds()))
		}
		st.Series = append(st.Series, p)
	}
	if len(rows) > 0 {
		st.HeadHash = hexOf(rows[len(rows)-1].hash)
	}
	if len(rows) > 1 {
		first, last := rows[0], rows[len(rows)-1]
		span := last.ts.Sub(first.ts)
		if span > 0 {
			txs := 0
			for _, r := range rows[1:] {
				txs += r.txs
			}
			st.TxPerSecond = float64(txs) / span.Seconds()
			st.BlockIntervalMs = float64(span.Milliseconds()) / float64(last.height-first.height)
		}
	}
	if len(finality) > 0 {
		sort.Float64s(finality)
		med := finality[len(finality)/2]
		st.FinalityMs = &med
	}
	return st, nil
}
