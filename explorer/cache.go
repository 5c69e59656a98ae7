package explorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache keys and lifetimes (design document §5). Values are JSON.
const (
	keyActiveValidators = "active_validators"
	keyLeaderboard      = "leaderboard" // a sorted set: member = row JSON, score = rank
	keyLatestBlocks     = "blocks:latest"
	keyLatestTxs        = "txs:latest"
	keyStats            = "stats"

	ttlValidator        = 15 * time.Minute
	ttlActiveValidators = 5 * time.Minute
	ttlLeaderboard      = 15 * time.Minute
	ttlLatest           = time.Minute // also dropped by every indexed batch
	ttlFinal            = 15 * time.Minute
	ttlAddress          = time.Second // memory only: an address page is not invalidated
	invalidateChannel   = "invalidate"
)

func keyValidator(id string) string { return "validator:" + id }

// rk is the Redis name of a cache key.
func (c *Cache) rk(k string) string { return c.prefix + k }

// SetNamespace sets the prefix of the Redis keys: explorers indexing one
// database share a namespace (and so their cache and invalidations); others
// sharing the Redis server do not see them.
func (c *Cache) SetNamespace(ns string) { c.prefix = ns + ":" }

// Cache is the two-tier cache: process memory in front of Redis (which may
// be absent or down).
type Cache struct {
	local   *localCache
	rdb     *redis.Client
	prefix  string // of every Redis key and channel: explorers of one database share them
	timeout time.Duration
	m       *Metrics
	log     *slog.Logger

	downUntil atomic.Int64 // unix nanos; Redis is skipped until then
	warned    atomic.Bool

	pmu        sync.Mutex
	pending    map[string]struct{} // invalidations Redis missed while down
	overflow   bool                // too many: delete the whole namespace
	hasPending atomic.Bool

	loads flights[[]byte]    // misses of one memory key share one load
	fills flights[boardRows] // and misses of the leaderboard one fill
}

// NewCache returns a cache; rdb may be nil (memory only).
func NewCache(rdb *redis.Client, cfg Config, m *Metrics, log *slog.Logger) *Cache {
	c := &Cache{local: newLocalCache(cfg.LocalTTL, cfg.LocalEntries), rdb: rdb, timeout: cfg.RedisTimeout, m: m, log: log.With("module", "explorer")}
	c.loads.joined = m.CacheCoalesced.Inc
	c.fills.joined = m.CacheCoalesced.Inc
	if rdb != nil {
		m.RedisUp.Set(1)
	}
	return c
}

// redisOK tells whether Redis is worth asking now.
func (c *Cache) redisOK() bool {
	if c.rdb == nil || time.Now().UnixNano() < c.downUntil.Load() {
		return false
	}
	return !c.hasPending.Load() || c.flushPending()
}

// maxPending bounds the invalidations remembered while Redis is down; past
// it, the whole namespace is deleted when Redis is back.
const maxPending = 10_000

// remember keeps keys whose deletion Redis missed, to delete them before
// Redis is read again: a value cached before an outage must not be served
// after it.
func (c *Cache) remember(keys []string) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pending == nil {
		c.pending = map[string]struct{}{}
	}
	for _, k := range keys {
		if len(c.pending) >= maxPending {
			c.overflow = true
			break
		}
		c.pending[k] = struct{}{}
	}
	c.hasPending.Store(true)
}

// flushPending deletes what was invalidated while Redis was down. It
// reports whether Redis may be used.
func (c *Cache) flushPending() bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if !c.hasPending.Load() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*c.timeout)
	defer cancel()
	var keys []string
	var err error
	if c.overflow {
		iter := c.rdb.Scan(ctx, 0, c.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		err = iter.Err()
	} else {
		for k := range c.pending {
			keys = append(keys, c.rk(k))
		}
	}
	if err == nil && len(keys) > 0 {
		err = c.rdb.Del(ctx, keys...).Err()
	}
	if err == nil && !c.overflow && len(c.pending) > 0 {
		// Other processes missed these too.
		names := make([]string, 0, len(c.pending))
		for k := range c.pending {
			names = append(names, k)
		}
		err = c.rdb.Publish(ctx, c.rk(invalidateChannel), strings.Join(names, "\n")).Err()
	}
	if err != nil {
		c.redisFailed(err)
		return false
	}
	c.pending, c.overflow = nil, false
	c.hasPending.Store(false)
	return true
}

// redisFailed takes Redis out for a second after an error other than a miss.
func (c *Cache) redisFailed(err error) {
	c.m.CacheRequests.WithLabelValues("redis", "error").Inc()
	c.m.RedisUp.Set(0)
	c.downUntil.Store(time.Now().Add(time.Second).UnixNano())
	if c.warned.CompareAndSwap(false, true) {
		c.log.Warn("redis unreachable; reads go to PostgreSQL", "err", err)
	}
}

func (c *Cache) redisBack() {
	if c.warned.CompareAndSwap(true, false) {
		c.log.Info("redis reachable again")
	}
	c.m.RedisUp.Set(1)
}

func (c *Cache) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// memory looks key up in the in-process tier, counting the hit or miss.
func (c *Cache) memory(key string) ([]byte, bool) {
	v, ok := c.local.get(key)
	if ok {
		c.m.CacheRequests.WithLabelValues("local", "hit").Inc()
	} else {
		c.m.CacheRequests.WithLabelValues("local", "miss").Inc()
	}
	return v, ok
}

// Get returns the value of key (and field, when the Redis value is a hash
// of variants such as page sizes) from the first tier that has it, or from
// load, filling the tiers it missed. ttl is the Redis lifetime. Concurrent
// misses of one key share one Redis lookup and one load (see flights).
func (c *Cache) Get(ctx context.Context, key, field string, ttl time.Duration, load func(context.Context) ([]byte, error)) ([]byte, error) {
	lk := key
	if field != "" {
		lk = key + ":" + field
	}
	if v, ok := c.memory(lk); ok {
		return v, nil
	}
	return c.coalesce(ctx, lk, func(ctx context.Context, gen uint64) ([]byte, error) {
		if c.redisOK() {
			rctx, cancel := c.rctx(ctx)
			var v []byte
			var err error
			if field == "" {
				v, err = c.rdb.Get(rctx, c.rk(key)).Bytes()
			} else {
				v, err = c.rdb.HGet(rctx, c.rk(key), field).Bytes()
			}
			cancel()
			switch {
			case err == nil:
				c.redisBack()
				c.m.CacheRequests.WithLabelValues("redis", "hit").Inc()
				c.local.put(lk, v, gen)
				return v, nil
			case errors.Is(err, redis.Nil):
				c.redisBack()
				c.m.CacheRequests.WithLabelValues("redis", "miss").Inc()
			default:
				c.redisFailed(err)
			}
		} else if c.rdb != nil {
			c.m.CacheRequests.WithLabelValues("redis", "skipped").Inc()
		}
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		if c.local.put(lk, v, gen) {
			c.setRedis(ctx, key, field, v, ttl)
		}
		return v, nil
	})
}

// coalesce runs fill for a miss of the memory key lk, once for all the
// concurrent misses of lk at the memory tier's current generation, which
// it is given (to store what it read only if nothing was invalidated
// since). A miss that arrives as a fill ends finds its value in memory.
func (c *Cache) coalesce(ctx context.Context, lk string, fill func(context.Context, uint64) ([]byte, error)) ([]byte, error) {
	gen := c.local.generation()
	return c.loads.do(ctx, lk, gen, func(ctx context.Context) ([]byte, error) {
		// The miss that started this may have raced the end of an
		// earlier fill of lk, which stored its value before it ended.
		if v, ok := c.local.get(lk); ok {
			return v, nil
		}
		return fill(ctx, gen)
	})
}

func (c *Cache) setRedis(ctx context.Context, key, field string, v []byte, ttl time.Duration) {
	if !c.redisOK() {
		return
	}
	rctx, cancel := c.rctx(ctx)
	defer cancel()
	var err error
	if field == "" {
		err = c.rdb.Set(rctx, c.rk(key), v, ttl).Err()
	} else {
		_, err = c.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
			p.HSet(rctx, c.rk(key), field, v)
			p.Expire(rctx, c.rk(key), ttl)
			return nil
		})
	}
	if err != nil {
		c.redisFailed(err)
	}
}

// Recent returns key from the memory tier if it was stored less than ttl
// ago, or from load, keeping it for ttl. It never uses Redis: it is for
// short-lived values that no indexed block invalidates.
func (c *Cache) Recent(ctx context.Context, key string, ttl time.Duration, load func(context.Context) ([]byte, error)) ([]byte, error) {
	if v, ok := c.memory(key); ok {
		return v, nil
	}
	return c.coalesce(ctx, key, func(ctx context.Context, _ uint64) ([]byte, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		c.local.putFor(key, v, ttl)
		return v, nil
	})
}

// Set writes a value read while the memory tier was at generation gen to
// both tiers, unless something was invalidated since (used by warming).
func (c *Cache) Set(ctx context.Context, key string, v []byte, ttl time.Duration, gen uint64) {
	if c.local.put(key, v, gen) {
		c.setRedis(ctx, key, "", v, ttl)
	}
}

// Invalidate drops keys from both tiers, and tells other explorer processes
// to drop them from their memory tier. A key ending in ":*" in memory drops
// every entry with that prefix (Redis keys are exact).
func (c *Cache) Invalidate(ctx context.Context, keys ...string) {
	if len(keys) == 0 {
		return
	}
	c.local.drop(keys)
	c.m.Invalidations.Add(float64(len(keys)))
	if c.rdb == nil {
		return
	}
	if !c.redisOK() {
		c.remember(keys)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 4*c.timeout)
	defer cancel()
	_, err := c.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		rkeys := make([]string, len(keys))
		for i, k := range keys {
			rkeys[i] = c.rk(k)
		}
		p.Del(rctx, rkeys...)
		p.Publish(rctx, c.rk(invalidateChannel), strings.Join(keys, "\n"))
		return nil
	})
	if err != nil {
		c.remember(keys)
		c.redisFailed(err)
	}
}

// listen drops from memory what other processes invalidate, until ctx ends.
func (c *Cache) listen(ctx context.Context) {
	if c.rdb == nil {
		return
	}
	for ctx.Err() == nil {
		sub := c.rdb.Subscribe(ctx, c.rk(invalidateChannel))
		stop := context.AfterFunc(ctx, func() { sub.Close() })
		for msg := range sub.Channel() {
			c.local.drop(strings.Split(msg.Payload, "\n"))
		}
		stop()
		sub.Close()
		sleep(ctx, time.Second)
	}
}

const keyLeaderboardRefreshed = "leaderboard:refreshed"

// leaderboardGet reads the first n rows of the leaderboard sorted set and
// the time of the refresh they come from.
func (c *Cache) leaderboardGet(ctx context.Context, n int) (rows []string, refreshed string, ok bool) {
	if !c.redisOK() {
		if c.rdb != nil {
			c.m.CacheRequests.WithLabelValues("redis", "skipped").Inc()
		}
		return nil, "", false
	}
	rctx, cancel := c.rctx(ctx)
	defer cancel()
	p := c.rdb.Pipeline()
	at := p.Get(rctx, c.rk(keyLeaderboardRefreshed))
	zr := p.ZRange(rctx, c.rk(keyLeaderboard), 0, int64(n-1))
	if _, err := p.Exec(rctx); err != nil && !errors.Is(err, redis.Nil) {
		c.redisFailed(err)
		return nil, "", false
	}
	c.redisBack()
	if at.Err() != nil { // written with the set, so the set is absent too
		c.m.CacheRequests.WithLabelValues("redis", "miss").Inc()
		return nil, "", false
	}
	c.m.CacheRequests.WithLabelValues("redis", "hit").Inc()
	return zr.Val(), at.Val(), true
}

// leaderboardSet replaces the leaderboard sorted set with rows (JSON, in
// rank order; score = position) in one transaction.
func (c *Cache) leaderboardSet(ctx context.Context, rows []string, refreshed string) {
	if !c.redisOK() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 4*c.timeout)
	defer cancel()
	members := make([]redis.Z, len(rows))
	for i, r := range rows {
		members[i] = redis.Z{Score: float64(i + 1), Member: r}
	}
	_, err := c.rdb.TxPipelined(rctx, func(p redis.Pipeliner) error {
		p.Del(rctx, c.rk(keyLeaderboard))
		if len(members) > 0 {
			p.ZAdd(rctx, c.rk(keyLeaderboard), members...)
			p.Expire(rctx, c.rk(keyLeaderboard), ttlLeaderboard)
		}
		p.Set(rctx, c.rk(keyLeaderboardRefreshed), refreshed, ttlLeaderboard)
		return nil
	})
	if err != nil {
		c.redisFailed(err)
	}
}

// localCache is the in-process tier: entries live ttl and are capped in
// number (a full cache drops everything expired, then an arbitrary half).
type localCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]localEntry
	gen     uint64 // bumped by every drop, so a load that raced a drop is not stored
}

type localEntry struct {
	v   []byte
	exp time.Time
}

func newLocalCache(ttl time.Duration, max int) *localCache {
	return &localCache{ttl: ttl, max: max, entries: map[string]localEntry{}}
}

func (l *localCache) get(k string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[k]
	if !ok || time.Now().After(e.exp) {
		return nil, false
	}
	return e.v, true
}

func (l *localCache) generation() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

// put stores k unless something was dropped since generation gen (the
// value may have been read before that invalidation); it reports whether
// it stored.
func (l *localCache) put(k string, v []byte, gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return false // invalidated while it was loaded: it may be stale
	}
	l.makeRoom()
	l.entries[k] = localEntry{v: v, exp: time.Now().Add(l.ttl)}
	return true
}

// makeRoom drops expired entries, then an arbitrary half, when the cache
// is full. The caller holds mu.
func (l *localCache) makeRoom() {
	if len(l.entries) < l.max {
		return
	}
	now := time.Now()
	for k, e := range l.entries {
		if now.After(e.exp) {
			delete(l.entries, k)
		}
	}
	for k := range l.entries {
		if len(l.entries) < l.max/2 {
			break
		}
		delete(l.entries, k)
	}
}

// putFor stores k for ttl, whatever was invalidated meanwhile.
func (l *localCache) putFor(k string, v []byte, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.makeRoom()
	l.entries[k] = localEntry{v: v, exp: time.Now().Add(min(ttl, l.ttl))}
}

// drop removes keys; a key also drops every entry starting with key+":".
func (l *localCache) drop(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	for _, k := range keys {
		delete(l.entries, k)
		for e := range l.entries {
			if strings.HasPrefix(e, k+":") {
				delete(l.entries, e)
			}
		}
	}
}

// quietRedis drops the Redis client's own log lines: the cache reports
// Redis trouble itself, once, and in metrics.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

var setRedisLogger sync.Once

// openRedis connects to url and checks it answers; an unreachable Redis is
// not an error (the cache goes around it), a bad URL is.
func openRedis(ctx context.Context, url string, log *slog.Logger) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("explorer: redis: %w", err)
	}
	opt.DialTimeout = time.Second
	opt.ReadTimeout = time.Second
	opt.WriteTimeout = time.Second
	opt.MaxRetries = 0
	setRedisLogger.Do(func() { redis.SetLogger(quietRedis{}) })
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("redis unreachable at start; serving from PostgreSQL until it answers", "redis", opt.Addr, "err", err)
	}
	return rdb, nil
}
