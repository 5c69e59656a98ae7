package explorer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

func memoryCache() *Cache {
	return NewCache(nil, DefaultConfig(), NewMetrics(nil), slog.New(slog.DiscardHandler))
}

// gate is a load that blocks until released and counts its calls.
type gate struct {
	calls   atomic.Int32
	started chan int32 // the number of each call, as it starts
	release chan struct{}
	value   func(call int32) ([]byte, error)
}

func newGate(value func(int32) ([]byte, error)) *gate {
	return &gate{started: make(chan int32, 64), release: make(chan struct{}), value: value}
}

func (g *gate) load(ctx context.Context) ([]byte, error) {
	n := g.calls.Add(1)
	g.started <- n
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.value(n)
}

// numbered is a value that names the load that read it: v1, v2, …
func numbered(n int32) ([]byte, error) { return []byte{'v', byte('0' + n)}, nil }

func waitStarted(t *testing.T, g *gate) int32 {
	t.Helper()
	select {
	case n := <-g.started:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no load started in 5 s")
		return 0
	}
}

// TestFlightsShareOneLoad: callers that miss one key while its load runs
// wait for that load; one call of load serves them all.
func TestFlightsShareOneLoad(t *testing.T) {
	c := memoryCache()
	g := newGate(numbered)
	const callers = 16
	var wg sync.WaitGroup
	got := make([]string, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.Get(context.Background(), "k", "", time.Minute, g.load)
			if err != nil {
				t.Error(err)
			}
			got[i] = string(v)
		}()
	}
	waitStarted(t, g)
	waitFor(t, 5*time.Second, "the other callers to join the load", func() bool {
		return counterOf(c.m.CacheCoalesced) == callers-1
	})
	close(g.release)
	wg.Wait()
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("%d loads for %d concurrent misses", n, callers)
	}
	for i, v := range got {
		if v != "v1" {
			t.Fatalf("caller %d got %q", i, v)
		}
	}
	if c.loads.running() != 0 {
		t.Fatal("a finished load is still listed")
	}
}

// TestFlightsInvalidationStartsANewLoad: a miss after an invalidation does
// not take the result of a load that started before it (it may be stale);
// it loads again, and only that newer value is kept.
func TestFlightsInvalidationStartsANewLoad(t *testing.T) {
	c := memoryCache()
	g := newGate(numbered)
	ctx := context.Background()
	first := make(chan string, 1)
	go func() {
		v, _ := c.Get(ctx, "k", "", time.Minute, g.load)
		first <- string(v)
	}()
	waitStarted(t, g)
	c.Invalidate(ctx, "k") // the row changed while the first load read it
	second := make(chan string, 1)
	go func() {
		v, _ := c.Get(ctx, "k", "", time.Minute, g.load)
		second <- string(v)
	}()
	if n := waitStarted(t, g); n != 2 {
		t.Fatalf("load %d started, want a second one", n)
	}
	close(g.release)
	if a, b := <-first, <-second; a != "v1" || b != "v2" {
		t.Fatalf("first caller got %q, second %q", a, b)
	}
	v, err := c.Get(ctx, "k", "", time.Minute, func(context.Context) ([]byte, error) { return []byte("again"), nil })
	if err != nil || string(v) != "v2" {
		t.Fatalf("after both loads the cache holds %q (%v), want the one read after the invalidation", v, err)
	}
}

// TestFlightsCallersLeave: the caller that started a load may go away
// without failing the others, and a waiter leaves when its own context
// ends; the load goes on with the starter's deadline.
func TestFlightsCallersLeave(t *testing.T) {
	c := memoryCache()
	var loadCtx context.Context
	g := newGate(func(int32) ([]byte, error) {
		if err := loadCtx.Err(); err != nil {
			return nil, err
		}
		return []byte("v"), nil
	})
	load := func(ctx context.Context) ([]byte, error) { loadCtx = ctx; return g.load(ctx) }
	starter, leave := context.WithTimeout(context.Background(), time.Minute)
	startErr := make(chan error, 1)
	go func() {
		_, err := c.Get(starter, "k", "", time.Minute, load)
		startErr <- err
	}()
	waitStarted(t, g)
	impatient, giveUp := context.WithCancel(context.Background())
	impatientErr := make(chan error, 1)
	go func() {
		_, err := c.Get(impatient, "k", "", time.Minute, load)
		impatientErr <- err
	}()
	patient := make(chan string, 1)
	go func() {
		v, err := c.Get(context.Background(), "k", "", time.Minute, load)
		if err != nil {
			t.Error(err)
		}
		patient <- string(v)
	}()
	waitFor(t, 5*time.Second, "two callers to join", func() bool { return counterOf(c.m.CacheCoalesced) == 2 })
	if dl, ok := loadCtx.Deadline(); !ok || time.Until(dl) > time.Minute {
		t.Fatalf("the load's deadline is %v, %v; want the starter's", dl, ok)
	}
	leave()
	if err := <-startErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the starter that left got %v", err)
	}
	giveUp()
	if err := <-impatientErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter that left got %v", err)
	}
	close(g.release)
	if v := <-patient; v != "v" {
		t.Fatalf("the waiter that stayed got %q", v)
	}
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("%d loads", n)
	}
}

// TestFlightsShareFailure: an error (or a panic) of the load reaches every
// caller that waited for it, and nothing is cached: the next miss loads.
func TestFlightsShareFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func() ([]byte, error)
		want string
	}{
		{"error", func() ([]byte, error) { return nil, ErrNotFound }, ErrNotFound.Error()},
		{"panic", func() ([]byte, error) { panic("broken invariant") }, "panicked: broken invariant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := memoryCache()
			g := newGate(func(int32) ([]byte, error) { return tc.fail() })
			const callers = 4
			errs := make(chan error, callers)
			for range callers {
				go func() {
					_, err := c.Get(context.Background(), "k", "", time.Minute, g.load)
					errs <- err
				}()
			}
			waitStarted(t, g)
			waitFor(t, 5*time.Second, "the callers to join", func() bool { return counterOf(c.m.CacheCoalesced) == callers-1 })
			close(g.release)
			for range callers {
				if err := <-errs; err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("caller got %v, want %q", err, tc.want)
				}
			}
			v, err := c.Get(context.Background(), "k", "", time.Minute, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
			if err != nil || string(v) != "ok" {
				t.Fatalf("after a failed load: %q %v", v, err)
			}
		})
	}
}

// dbReads is the number of database reads the API and the cache fills
// made, on every pool.
func dbReads(e *Explorer) float64 {
	n := counterOf(e.m.DBQueries.WithLabelValues("primary"))
	for _, r := range e.db.replicas {
		n += counterOf(e.m.DBQueries.WithLabelValues(r.name))
	}
	return n
}

// burst GETs u from n clients released at once and returns the status
// codes and bodies.
func burst(t *testing.T, u string, n int) ([]int, []string) {
	t.Helper()
	codes, bodies := make([]int, n), make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("GET %s: %v", u, err)
				return
			}
			defer resp.Body.Close()
			var b strings.Builder
			if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
				t.Errorf("GET %s: %v", u, err)
			}
			codes[i], bodies[i] = resp.StatusCode, b.String()
		}()
	}
	close(start)
	wg.Wait()
	return codes, bodies
}

// TestConcurrentMissesLoadOnce: many clients asking at once for a key that
// is in no cache tier make one database read between them, for every
// route that caches (a popular page expiring must not become as many
// queries as it has readers).
func TestConcurrentMissesLoadOnce(t *testing.T) {
	// No scheduled leaderboard refresh: its reads would be counted.
	s := newTestStackWith(t, func(c *Config) { c.LeaderboardRefresh = time.Hour })
	e := s.explorer
	ctx := context.Background()
	hash, height, from, _ := s.Transfer(t)
	// The first refresh follows the catch-up; wait for it and its fill.
	rdb := redis.NewClient(mustRedisOptions(t))
	defer rdb.Close()
	waitFor(t, 10*time.Second, "the first leaderboard refresh", func() bool {
		var m dto.Metric
		e.m.LeaderboardRefreshSeconds.Write(&m)
		return m.GetHistogram().GetSampleCount() > 0 && rdb.Exists(ctx, e.cache.rk(keyLeaderboardRefreshed)).Val() == 1
	})
	// A replica a moment behind answers "not found" and the read goes on
	// to the primary (two reads): wait until the replica has the block.
	for _, r := range e.db.replicas {
		waitFor(t, 10*time.Second, "the replica to replay the transfer", func() bool {
			var n int
			return r.pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE hash = $1`, hexBytes(t, hash)).Scan(&n) == nil && n == 1
		})
	}
	var vs struct {
		Validators []ValidatorJSON `json:"validators"`
	}
	getJSON(t, s.URL+"/api/validators", &vs)
	id := vs.Validators[0].ID

	const clients = 24
	for _, tc := range []struct {
		name, path string
		keys       []string // what to drop from both tiers first
	}{
		{"validator", "/api/validators/" + id, []string{keyValidator(id)}},
		{"active validators", "/api/validators", []string{keyActiveValidators}},
		{"stats", "/api/stats", []string{keyStats}},
		{"latest blocks", "/api/blocks?limit=7", []string{keyLatestBlocks}},
		{"latest transactions", "/api/txs?limit=7", []string{keyLatestTxs}},
		{"block", fmt.Sprintf("/api/blocks/%d", height), []string{fmt.Sprintf("block:%d", height)}},
		{"transaction", "/api/tx/" + hash, []string{"tx:" + hash}},
		{"address", "/api/address/" + from + "?limit=5", []string{"addr:" + from + ":5"}},
		{"leaderboard", "/api/leaderboard?limit=7", []string{keyLeaderboard, keyLeaderboardRefreshed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every indexed batch invalidates keys and so starts new
			// loads: a burst a batch fell into is run again.
			for attempt := 1; ; attempt++ {
				e.cache.local.drop(tc.keys)
				rkeys := make([]string, len(tc.keys))
				for i, k := range tc.keys {
					rkeys[i] = e.cache.rk(k)
				}
				if err := rdb.Del(ctx, rkeys...).Err(); err != nil {
					t.Fatal(err)
				}
				gen, before := e.cache.local.generation(), dbReads(e.Explorer)
				codes, bodies := burst(t, s.URL+tc.path, clients)
				reads := dbReads(e.Explorer) - before
				if e.cache.local.generation() != gen && attempt < 10 {
					t.Logf("attempt %d: %v reads, but a batch invalidated the cache meanwhile; again", attempt, reads)
					continue
				}
				t.Logf("%d concurrent misses: %v database reads (attempt %d)", clients, reads, attempt)
				for i := range codes {
					if codes[i] != http.StatusOK || bodies[i] != bodies[0] {
						t.Fatalf("client %d: %d %q, client 0 got %q", i, codes[i], bodies[i], bodies[0])
					}
				}
				if reads != 1 {
					t.Fatalf("%d concurrent misses of one key made %v database reads, want 1", clients, reads)
				}
				return
			}
		})
	}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hexParam(s, 32, "hash")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
