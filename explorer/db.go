package explorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what a read needs of a pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB routes the explorer's queries: writes and strong reads to the primary,
// other reads round-robin over healthy replicas, falling back to the
// primary.
type DB struct {
	primary  *pgxpool.Pool
	replicas []*replica
	next     atomic.Uint64
	maxLag   time.Duration
	m        *Metrics

	checkMu   sync.Mutex
	samples   []walSample // the primary's WAL positions at recent checks
	minReplay float64     // a replica serves reads only once it has replayed this far
	log       *slog.Logger
}

type replica struct {
	name    string
	pool    *pgxpool.Pool
	healthy atomic.Bool
}

type strongKey struct{}

// WithStrongRead marks ctx so that reads made with it go to the primary and
// see every committed write.
func WithStrongRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, strongKey{}, true)
}

func isStrong(ctx context.Context) bool {
	v, _ := ctx.Value(strongKey{}).(bool)
	return v
}

// OpenDB connects to the primary and the replicas. Replicas start unhealthy
// until their first check passes.
func OpenDB(ctx context.Context, cfg Config, m *Metrics, log *slog.Logger) (*DB, error) {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	open := func(dsn string, size int32) (*pgxpool.Pool, error) {
		pc, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		pc.MaxConns = size
		pc.MinConns = 1
		pc.HealthCheckPeriod = 10 * time.Second
		pc.ConnConfig.ConnectTimeout = 3 * time.Second
		return pgxpool.NewWithConfig(ctx, pc)
	}
	primary, err := open(cfg.Postgres, poolSize(cfg.PoolSize))
	if err != nil {
		return nil, fmt.Errorf("explorer: postgres primary: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := primary.Ping(pctx); err != nil {
		primary.Close()
		return nil, fmt.Errorf("explorer: postgres primary: %w", err)
	}
	d := &DB{primary: primary, maxLag: cfg.MaxReplicaLag, m: m, log: log.With("module", "explorer")}
	for i, dsn := range cfg.Replicas {
		p, err := open(dsn, poolSize(cfg.ReplicaPoolSize))
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("explorer: postgres replica %d: %w", i, err)
		}
		d.replicas = append(d.replicas, &replica{name: fmt.Sprintf("replica-%d", i), pool: p})
	}
	d.CheckReplicas(ctx)
	return d, nil
}

// Primary is the pool of the primary.
func (d *DB) Primary() *pgxpool.Pool { return d.primary }

// Close closes every pool.
func (d *DB) Close() {
	for _, r := range d.replicas {
		r.pool.Close()
	}
	d.primary.Close()
}

// pick chooses the pool for a read.
func (d *DB) pick(ctx context.Context) (querier, *replica) {
	if !isStrong(ctx) && len(d.replicas) > 0 {
		n := len(d.replicas)
		start := int(d.next.Add(1) % uint64(n))
		for i := 0; i < n; i++ {
			r := d.replicas[(start+i)%n]
			if r.healthy.Load() {
				return r.pool, r
			}
		}
	}
	return d.primary, nil
}

// read runs fn on the pool chosen for ctx. When a replica fails for a reason
// other than the query itself (it is down, restarting, unreachable) it is
// marked unhealthy and fn runs again on the primary.
func (d *DB) read(ctx context.Context, fn func(q querier) error) error {
	q, r := d.pick(ctx)
	if r == nil {
		d.m.DBQueries.WithLabelValues("primary").Inc()
		return fn(q)
	}
	d.m.DBQueries.WithLabelValues(r.name).Inc()
	err := fn(q)
	if errors.Is(err, ErrNotFound) && ctx.Err() == nil {
		// The replica may not have replayed the newest batch yet: a block
		// listed a moment ago must not be "not found".
		d.m.DBQueries.WithLabelValues("primary").Inc()
		return fn(d.primary)
	}
	if err == nil || !replicaFault(ctx, err) {
		return err
	}
	if r.healthy.CompareAndSwap(true, false) {
		d.m.ReplicaUp.WithLabelValues(r.name).Set(0)
		d.log.Warn("replica failed; reads go elsewhere until it passes a health check", "replica", r.name, "err", err)
	}
	d.m.DBQueries.WithLabelValues("primary").Inc()
	return fn(d.primary)
}

// replicaFault tells a failure of the server or the connection from an
// error of the query (which would fail on the primary too).
func replicaFault(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, ErrNotFound) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 57 (operator intervention: shutdown, recovery conflict)
		// and 08 (connection exception) are the server's, not the query's.
		return len(pe.Code) >= 2 && (pe.Code[:2] == "57" || pe.Code[:2] == "08")
	}
	return true
}

// walSample is the primary's WAL position at a health check.
type walSample struct {
	pos float64
	at  time.Time
}

// CheckReplicas checks every replica once: it must answer, be in recovery
// and replay within the allowed lag. A replica's lag in bytes is the
// primary's WAL position minus its replay position; its lag in time is the
// age of the newest check at which the primary's position was no further
// than the replica's replay position now (so an idle primary does not make
// a current replica look late).
func (d *DB) CheckReplicas(ctx context.Context) {
	if len(d.replicas) == 0 {
		return
	}
	d.checkMu.Lock()
	defer d.checkMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := time.Now()
	var primaryPos float64
	primaryErr := d.primary.QueryRow(cctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8`).Scan(&primaryPos)
	if primaryErr == nil {
		d.samples = append(d.samples, walSample{pos: primaryPos, at: now})
		for len(d.samples) > 2 && now.Sub(d.samples[1].at) > 2*d.maxLag {
			d.samples = d.samples[1:]
		}
	}
	for _, r := range d.replicas {
		ok, lagSec, lagBytes, err := d.checkReplica(cctx, r, primaryPos, primaryErr, now)
		if err != nil {
			ok = false
		}
		d.m.ReplicaLagSeconds.WithLabelValues(r.name).Set(lagSec)
		d.m.ReplicaLagBytes.WithLabelValues(r.name).Set(lagBytes)
		if ok {
			d.m.ReplicaUp.WithLabelValues(r.name).Set(1)
		} else {
			d.m.ReplicaUp.WithLabelValues(r.name).Set(0)
		}
		if was := r.healthy.Swap(ok); was != ok {
			if ok {
				d.log.Info("replica serves reads", "replica", r.name, "lag_seconds", lagSec)
			} else {
				d.log.Warn("replica taken out of reads", "replica", r.name, "lag_seconds", lagSec, "err", err)
			}
		}
	}
}

func (d *DB) checkReplica(ctx context.Context, r *replica, primaryPos float64, primaryErr error, now time.Time) (ok bool, lagSec, lagBytes float64, err error) {
	var inRecovery bool
	var replay *float64
	err = r.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8`).Scan(&inRecovery, &replay)
	if err != nil {
		return false, 0, 0, err
	}
	if !inRecovery || replay == nil {
		return false, 0, 0, errors.New("not a streaming replica (not in recovery)")
	}
	if primaryErr != nil {
		return false, 0, 0, fmt.Errorf("primary: %w", primaryErr)
	}
	if *replay < d.minReplay {
		return false, 0, max(0, primaryPos-*replay), errors.New("has not yet replayed the schema this explorer applied")
	}
	lagBytes = max(0, primaryPos-*replay)
	if lagBytes > 0 {
		lagSec = now.Sub(d.samples[0].at).Seconds()
		for i := len(d.samples) - 1; i >= 0; i-- {
			if d.samples[i].pos <= *replay {
				lagSec = now.Sub(d.samples[i].at).Seconds()
				break
			}
		}
	}
	return lagSec <= d.maxLag.Seconds(), lagSec, lagBytes, nil
}

// namespace names the database for shared caches: the cluster's system
// identifier and the database name.
func (d *DB) namespace(ctx context.Context) (string, error) {
	var name string
	var sysid int64
	err := d.primary.QueryRow(ctx, `SELECT current_database(), (SELECT system_identifier FROM pg_control_system())`).Scan(&name, &sysid)
	if err != nil {
		return "", fmt.Errorf("explorer: naming the cache namespace: %w", err)
	}
	return fmt.Sprintf("bizra-explorer:%d:%s", sysid, name), nil
}

// RequireCurrentSchema keeps replicas out of reads until they have replayed
// the primary's WAL as it is now (call it after migrating, so that no read
// meets a replica without the tables), then checks them.
func (d *DB) RequireCurrentSchema(ctx context.Context) error {
	if len(d.replicas) == 0 {
		return nil
	}
	var pos float64
	if err := d.primary.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8`).Scan(&pos); err != nil {
		return fmt.Errorf("explorer: primary WAL position: %w", err)
	}
	d.checkMu.Lock()
	d.minReplay = pos
	d.checkMu.Unlock()
	for _, r := range d.replicas {
		r.healthy.Store(false)
	}
	d.CheckReplicas(ctx)
	return nil
}

// watchReplicas checks the replicas every interval until ctx ends.
func (d *DB) watchReplicas(ctx context.Context, every time.Duration) {
	if len(d.replicas) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.CheckReplicas(ctx)
		}
	}
}
