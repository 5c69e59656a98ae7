package explorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// Options are the explorer's collaborators; all may be zero.
type Options struct {
	Logger *slog.Logger
	// Registry receives the metrics and is served at /metrics; nil makes
	// one with the Go and process collectors.
	Registry *prometheus.Registry
}

// Explorer is the running explorer: indexer, cache, API.
type Explorer struct {
	cfg   Config
	log   *slog.Logger
	m     *Metrics
	db    *DB
	rdb   *redis.Client
	cache *Cache
	store *Store
	ix    *Indexer
	ln    net.Listener
	srv   *http.Server
}

// Open connects to PostgreSQL (applying migrations) and Redis, and listens
// on cfg.Listen. Run starts the work.
func Open(ctx context.Context, cfg Config, opts Options) (*Explorer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("explorer: config: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := NewMetrics(reg)
	e := &Explorer{cfg: cfg, log: log.With("module", "explorer"), m: m}
	var err error
	if e.db, err = OpenDB(ctx, cfg, m, log); err != nil {
		return nil, err
	}
	version, err := Migrate(ctx, e.db.Primary())
	if err == nil {
		err = e.db.RequireCurrentSchema(ctx)
	}
	if err != nil {
		e.db.Close()
		return nil, err
	}
	if cfg.Redis != "" {
		if e.rdb, err = openRedis(ctx, cfg.Redis, e.log); err != nil {
			e.db.Close()
			return nil, err
		}
	}
	e.cache = NewCache(e.rdb, cfg, m, log)
	ns, err := e.db.namespace(ctx)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.cache.SetNamespace(ns)
	e.store = &Store{db: e.db}
	e.ix = newIndexer(cfg, e.db, e.cache, m, log)
	if e.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		e.Close()
		return nil, fmt.Errorf("explorer: listen: %w", err)
	}
	a := &api{store: e.store, cache: e.cache, ix: e.ix, m: m, log: e.log, timeout: cfg.QueryTimeout}
	e.srv = &http.Server{
		Handler: a.handler(reg),
		// The API takes GETs only: a request is its headers.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// A client that stops reading its answer is cut off here.
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  2 * time.Minute,
	}
	e.log.Info("explorer open", "schema_version", version, "replicas", len(cfg.Replicas), "redis", cfg.Redis != "",
		"listen", e.ln.Addr().String(), "node", cfg.RPC)
	return e, nil
}

// Addr is the address the API listens on.
func (e *Explorer) Addr() string { return e.ln.Addr().String() }

// Indexer returns the indexer (for its heights).
func (e *Explorer) Indexer() *Indexer { return e.ix }

// Close releases the connections. Run closes them itself when it returns.
func (e *Explorer) Close() {
	if e.ln != nil {
		e.ln.Close()
	}
	if e.rdb != nil {
		e.rdb.Close()
	}
	e.db.Close()
}

// Run serves and indexes until ctx ends (nil) or the indexer cannot go on
// (its error). It closes the explorer before returning.
func (e *Explorer) Run(ctx context.Context) error {
	defer e.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	serveErr := make(chan error, 1)
	spawn(func() {
		if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
			cancel()
		}
	})
	spawn(func() { e.db.watchReplicas(ctx, e.cfg.HealthInterval) })
	spawn(func() { e.cache.listen(ctx) })
	spawn(func() { e.keepLeaderboard(ctx) })
	spawn(func() { e.keepWarm(ctx) })
	err := e.ix.Run(ctx)
	if ctx.Err() != nil {
		err = nil
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	e.srv.Shutdown(sctx) //nolint:errcheck // shutting down anyway
	scancel()
	wg.Wait()
	select {
	case serr := <-serveErr:
		return fmt.Errorf("explorer: serving: %w", serr)
	default:
	}
	return err
}

// keepLeaderboard refreshes the materialized leaderboard once the index
// first catches up and then every LeaderboardRefresh.
func (e *Explorer) keepLeaderboard(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-e.ix.CaughtUp():
	}
	e.repeat(ctx, e.cfg.LeaderboardRefresh, "leaderboard refresh", e.RefreshLeaderboard)
}

// keepWarm warms the cache at start and every WarmInterval (§5.2): the top
// 1,000 validators, the active set and the leaderboard.
func (e *Explorer) keepWarm(ctx context.Context) {
	e.repeat(ctx, e.cfg.WarmInterval, "cache warming", e.Warm)
}

// repeat runs f now and then every period until ctx ends, logging failures.
func (e *Explorer) repeat(ctx context.Context, period time.Duration, what string, f func(context.Context) error) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn(what+" failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshLeaderboard refreshes the materialized view and replaces the
// cached leaderboard with its rows, read from the primary.
func (e *Explorer) RefreshLeaderboard(ctx context.Context) error {
	start := time.Now()
	if err := e.store.RefreshLeaderboard(ctx); err != nil {
		return err
	}
	e.m.LeaderboardRefreshSeconds.Observe(time.Since(start).Seconds())
	return e.warmLeaderboard(ctx)
}

// warmLeaderboard puts the leaderboard in Redis and drops the pages the
// memory tier rendered from the old one.
func (e *Explorer) warmLeaderboard(ctx context.Context) error {
	_, _, err := fillLeaderboard(ctx, e.store, e.cache)
	e.cache.local.drop([]string{keyLeaderboard})
	return err
}

// Warm fills the cache tiers with what is read most.
func (e *Explorer) Warm(ctx context.Context) error {
	// What the indexer invalidates is read from the primary, so that a
	// replica a moment behind cannot put an old row back in the cache.
	ctx = WithStrongRead(ctx)
	gen := e.cache.local.generation()
	top, err := e.store.TopValidators(ctx, 1000)
	if err != nil {
		return err
	}
	for _, v := range top {
		b, err := marshal(v)
		if err != nil {
			return err
		}
		e.cache.Set(ctx, keyValidator(v.ID), b, ttlValidator, gen)
	}
	a := api{store: e.store}
	body, err := a.activeValidatorsJSON(ctx)
	if err != nil {
		return err
	}
	e.cache.Set(ctx, keyActiveValidators, body, ttlActiveValidators, gen)
	return e.warmLeaderboard(ctx)
}
