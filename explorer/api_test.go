package explorer

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAPI(t *testing.T) {
	s := newTestStack(t)
	var hashes []string
	var from string
	for i := 0; i < 3; i++ {
		h, _, f, _ := s.Transfer(t)
		hashes = append(hashes, h)
		from = f
		s.next-- // the same sender each time
	}
	waitFor(t, 20*time.Second, "a dozen blocks", func() bool { return s.explorer.Indexer().IndexedHeight() >= 12 })
	if err := s.explorer.RefreshLeaderboard(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := s.URL

	t.Run("blocks paginate", func(t *testing.T) {
		var page1, page2 struct {
			Blocks []BlockJSON `json:"blocks"`
			Next   *uint64     `json:"next"`
		}
		if code := getJSON(t, base+"/api/blocks?limit=5", &page1); code != 200 || len(page1.Blocks) != 5 || page1.Next == nil {
			t.Fatalf("page 1: %d %+v", code, page1)
		}
		if code := getJSON(t, fmt.Sprintf("%s/api/blocks?limit=5&before=%d", base, *page1.Next), &page2); code != 200 || len(page2.Blocks) == 0 {
			t.Fatalf("page 2: %d %+v", code, page2)
		}
		if page2.Blocks[0].Height != page1.Blocks[4].Height-1 {
			t.Fatalf("page 2 starts at %d after %d", page2.Blocks[0].Height, page1.Blocks[4].Height)
		}
		for i := 1; i < len(page1.Blocks); i++ {
			if page1.Blocks[i].Height != page1.Blocks[i-1].Height-1 || page1.Blocks[i-1].ParentHash != page1.Blocks[i].Hash {
				t.Fatalf("blocks out of order: %+v", page1.Blocks)
			}
		}
	})
	t.Run("block by height and hash", func(t *testing.T) {
		var tx TxJSON
		getJSON(t, base+"/api/tx/"+hashes[0], &tx)
		var byHeight, byHash BlockJSON
		if code := getJSON(t, fmt.Sprintf("%s/api/blocks/%d", base, tx.BlockHeight), &byHeight); code != 200 {
			t.Fatalf("by height: %d", code)
		}
		if code := getJSON(t, base+"/api/blocks/"+strings.ToUpper(tx.BlockHash[:2])+tx.BlockHash[2:], &byHash); code != 200 {
			t.Fatalf("by hash: %d", code)
		}
		if byHeight.Hash != tx.BlockHash || byHash.Height != tx.BlockHeight || len(byHeight.Transactions) == 0 ||
			byHeight.ProposerName == "" || len(byHeight.Signers) == 0 || byHeight.SignedStake == "0" {
			t.Fatalf("block %+v / %+v for tx %+v", byHeight, byHash, tx)
		}
		found := false
		for _, x := range byHeight.Transactions {
			found = found || x.Hash == hashes[0]
		}
		if !found {
			t.Fatal("the block does not list its transaction")
		}
		if tx.Value != "1234567890123" || tx.From != from || tx.Status != "success" || tx.Fee == "0" || tx.GasPrice == "0" {
			t.Fatalf("tx %+v", tx)
		}
	})
	t.Run("latest transactions", func(t *testing.T) {
		var out struct {
			Transactions []TxJSON `json:"transactions"`
		}
		if code := getJSON(t, base+"/api/txs?limit=3", &out); code != 200 || len(out.Transactions) != 3 || out.Transactions[0].Hash != hashes[2] {
			t.Fatalf("latest txs: %d %+v", code, out)
		}
	})
	t.Run("address paginates", func(t *testing.T) {
		var p1, p2 AddressJSON
		if code := getJSON(t, base+"/api/address/"+from+"?limit=2", &p1); code != 200 || p1.Sent != 3 || len(p1.Transactions) != 2 || p1.Next == nil {
			t.Fatalf("address page 1: %d %+v", code, p1)
		}
		if code := getJSON(t, base+"/api/address/"+from+"?limit=2&before="+url.QueryEscape(*p1.Next), &p2); code != 200 || len(p2.Transactions) != 1 || p2.Next != nil {
			t.Fatalf("address page 2: %d %+v", code, p2)
		}
		if p1.Transactions[0].Hash != hashes[2] || p2.Transactions[0].Hash != hashes[0] {
			t.Fatalf("address order: %v then %v", p1.Transactions, p2.Transactions)
		}
	})
	t.Run("validators and leaderboard", func(t *testing.T) {
		var vs struct {
			Validators []ValidatorJSON `json:"validators"`
		}
		if code := getJSON(t, base+"/api/validators", &vs); code != 200 || len(vs.Validators) != 1 || vs.Validators[0].Reputation != 100 {
			t.Fatalf("validators: %d %+v", code, vs)
		}
		var v ValidatorJSON
		if code := getJSON(t, base+"/api/validators/"+vs.Validators[0].ID, &v); code != 200 || v.Name != vs.Validators[0].Name {
			t.Fatalf("validator: %d %+v", code, v)
		}
		var lb struct {
			Leaderboard []LeaderJSON `json:"leaderboard"`
			RefreshedAt *int64       `json:"refreshedAt"`
		}
		if code := getJSON(t, base+"/api/leaderboard?limit=10", &lb); code != 200 || len(lb.Leaderboard) != 1 || lb.Leaderboard[0].Rank != 1 || lb.RefreshedAt == nil {
			t.Fatalf("leaderboard: %d %+v", code, lb)
		}
	})
	t.Run("stats", func(t *testing.T) {
		var st StatsJSON
		if code := getJSON(t, base+"/api/stats", &st); code != 200 || st.Height < 1 || st.TotalTransactions < 3 || st.BlockIntervalMs <= 0 || len(st.Series) == 0 {
			t.Fatalf("stats: %d %+v", code, st)
		}
		if st.BlockIntervalMs < 150 || st.BlockIntervalMs > 400 {
			t.Fatalf("block interval %v ms with 200 ms blocks", st.BlockIntervalMs)
		}
	})
	t.Run("errors", func(t *testing.T) {
		zero := "0x" + strings.Repeat("0", 64)
		cases := []struct {
			path string
			code int
			msg  string
		}{
			{"/api/blocks?limit=0", 400, "limit"},
			{"/api/blocks?limit=101", 400, "limit"},
			{"/api/blocks?limit=ten", 400, "limit"},
			{"/api/blocks?before=-1", 400, "before"},
			{"/api/blocks/abc", 400, "height"},
			{"/api/blocks/0x1234", 400, "hash"},
			{"/api/blocks/99999999", 404, "not found"},
			{"/api/blocks/" + zero, 404, "not found"},
			{"/api/tx/" + url.PathEscape("0x' OR 1=1--"), 400, "hash"},
			{"/api/tx/" + zero, 404, "not found"},
			{"/api/tx/0x" + strings.Repeat("zz", 32), 400, "hash"},
			{"/api/address/0x1234", 400, "address"},
			{"/api/address/0x" + strings.Repeat("11", 20) + "?before=5", 400, "cursor"},
			{"/api/validators/0x" + strings.Repeat("11", 20), 404, "not found"},
			{"/api/leaderboard?limit=1001", 400, "limit"},
			{"/api/nothing", 404, "no such"},
		}
		for _, c := range cases {
			code, h, body := get(t, base+c.path)
			if code != c.code || !strings.Contains(body, c.msg) || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != ccNoStore {
				t.Errorf("GET %s: %d %q (%s, %s), want %d containing %q", c.path, code, body, h.Get("Content-Type"), h.Get("Cache-Control"), c.code, c.msg)
			}
		}
	})
	t.Run("cache control and pages", func(t *testing.T) {
		if _, h, _ := get(t, base+"/api/blocks/1"); h.Get("Cache-Control") != ccFinal {
			t.Errorf("final block Cache-Control %q", h.Get("Cache-Control"))
		}
		if _, h, _ := get(t, base+"/api/blocks"); h.Get("Cache-Control") != ccMoving {
			t.Errorf("latest blocks Cache-Control %q", h.Get("Cache-Control"))
		}
		code, h, body := get(t, base+"/")
		if code != 200 || !strings.Contains(body, "<html") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("web page: %d %q", code, h)
		}
		if code, _, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "bizra_explorer_indexed_height") || !strings.Contains(body, "bizra_explorer_replica_lag_seconds") {
			t.Errorf("metrics: %d", code)
		}
		if code, _, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "indexedHeight") {
			t.Errorf("healthz: %d %s", code, body)
		}
	})
}

// TestCacheInvalidation checks that an indexed block that changes a
// validator drops it from both tiers, and that other processes hear of it.
func TestCacheInvalidation(t *testing.T) {
	s := newTestStack(t)
	var vs struct {
		Validators []ValidatorJSON `json:"validators"`
	}
	getJSON(t, s.URL+"/api/validators", &vs)
	id := vs.Validators[0].ID
	var v1, v2 ValidatorJSON
	rdb := redis.NewClient(mustRedisOptions(t))
	defer rdb.Close()
	ctx := context.Background()
	// Every indexed batch drops the validator: a read whose load a batch
	// overtook stores nothing (it may be stale), and a batch after the read
	// drops what it stored. Read until one read is seen cached in both.
	inRedis, inMemory := false, false
	for range 20 {
		getJSON(t, s.URL+"/api/validators/"+id, &v1)
		n, _ := rdb.Exists(ctx, s.explorer.cache.rk(keyValidator(id))).Result()
		_, inMemory = s.explorer.cache.local.get(keyValidator(id))
		if inRedis = n == 1; inRedis && inMemory {
			break
		}
	}
	if !inRedis || !inMemory {
		t.Fatalf("after 20 reads the validator is cached in Redis: %v, in memory: %v", inRedis, inMemory)
	}
	// A second process's memory tier hears the invalidation over Redis.
	other := NewCache(redis.NewClient(mustRedisOptions(t)), testConfig("", "", "", ""), NewMetrics(nil), s.explorer.log)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	other.prefix = s.explorer.cache.prefix // another process on the same database
	go other.listen(lctx)
	other.local.put(keyValidator(id), []byte("stale"), other.local.generation())
	time.Sleep(100 * time.Millisecond) // let the subscription start

	// Every block the validator proposes changes its row.
	h := s.explorer.Indexer().IndexedHeight()
	waitFor(t, 10*time.Second, "another block", func() bool { return s.explorer.Indexer().IndexedHeight() > h })
	waitFor(t, 5*time.Second, "the other process to drop the key", func() bool {
		_, ok := other.local.get(keyValidator(id))
		return !ok
	})
	getJSON(t, s.URL+"/api/validators/"+id, &v2)
	if v2.BlocksProposed <= v1.BlocksProposed {
		t.Fatalf("validator read from a stale cache: %d blocks proposed, then %d", v1.BlocksProposed, v2.BlocksProposed)
	}
}

func mustRedisOptions(t *testing.T) *redis.Options {
	needEnv(t, "REDIS_URL")
	o, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRedisDown runs the explorer with Redis behind a proxy that is cut:
// the API answers from PostgreSQL, the metrics say so, indexing goes on,
// and the cache comes back with Redis.
func TestRedisDown(t *testing.T) {
	n := startTestNode(t, 100*time.Millisecond)
	pg, _ := testDB(t)
	ru, err := url.Parse(testRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, ru.Host)
	ru.Host = px.addr
	e := startExplorer(t, testConfig(n.url(), pg, "", ru.String()))
	select {
	case <-e.Indexer().CaughtUp():
	case <-time.After(30 * time.Second):
		t.Fatal("no catch-up")
	}
	if code, _, _ := get(t, e.url()+"/api/validators"); code != 200 {
		t.Fatal(code)
	}
	if gaugeValue(e.m.RedisUp) != 1 {
		t.Fatal("redis not reported up")
	}
	px.cut()
	h := e.Indexer().IndexedHeight()
	for i := 0; i < 20; i++ {
		e.cache.local.drop([]string{keyLatestBlocks, keyActiveValidators})
		if code, _, body := get(t, e.url()+"/api/blocks?limit=3"); code != 200 {
			t.Fatalf("with Redis down: %d %s", code, body)
		}
		if code, _, _ := get(t, e.url()+"/api/validators"); code != 200 {
			t.Fatalf("with Redis down: %d", code)
		}
	}
	if gaugeValue(e.m.RedisUp) != 0 || counterOf(e.m.CacheRequests.WithLabelValues("redis", "error")) == 0 ||
		counterOf(e.m.CacheRequests.WithLabelValues("redis", "skipped")) == 0 {
		t.Fatal("metrics do not show Redis down")
	}
	waitFor(t, 10*time.Second, "indexing to go on without Redis", func() bool { return e.Indexer().IndexedHeight() > h+5 })
	checkIndexAgainstNode(t, openPool(t, pg), newSource(e.cfg), h+5)
	px.up(t)
	waitFor(t, 10*time.Second, "Redis to be used again", func() bool {
		e.cache.local.drop([]string{keyActiveValidators})
		get(t, e.url()+"/api/validators")
		return gaugeValue(e.m.RedisUp) == 1
	})
	// That nothing invalidated during the outage is served afterwards is
	// TestInvalidationDuringOutage's: here new blocks would hide it.
}

// TestWarmingAndScheduledRefresh checks that warming fills Redis with the
// design document's keys and that the leaderboard is refreshed on its
// schedule (one second in tests).
func TestWarmingAndScheduledRefresh(t *testing.T) {
	s := newTestStack(t)
	ctx := context.Background()
	rdb := redis.NewClient(mustRedisOptions(t))
	defer rdb.Close()
	refreshed := func() int64 {
		var at *time.Time
		if err := s.explorer.db.Primary().QueryRow(ctx, `SELECT leaderboard_refreshed FROM indexer_state`).Scan(&at); err != nil || at == nil {
			return 0
		}
		return at.UnixNano()
	}
	// The first refresh follows the catch-up; later ones the schedule.
	waitFor(t, 10*time.Second, "the first leaderboard refresh", func() bool { return refreshed() != 0 })
	first := refreshed()
	waitFor(t, 10*time.Second, "a scheduled leaderboard refresh", func() bool { return refreshed() > first })

	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var vs struct {
		Validators []ValidatorJSON `json:"validators"`
	}
	getJSON(t, s.URL+"/api/validators", &vs)
	// The indexer keeps committing batches, and each one invalidates the
	// validators it changed: a batch between warming and the checks
	// deletes a key warming wrote. Warm again until one warming is seen
	// whole.
	var missing []string
	var validatorTTL, activeTTL time.Duration
	warmed := func() bool {
		if err := s.explorer.Warm(ctx); err != nil {
			t.Fatal(err)
		}
		missing = nil
		for _, k := range []string{keyValidator(vs.Validators[0].ID), keyActiveValidators, keyLeaderboard, keyLeaderboardRefreshed} {
			if n, err := rdb.Exists(ctx, s.explorer.cache.rk(k)).Result(); err != nil || n != 1 {
				missing = append(missing, k)
			}
		}
		validatorTTL = rdb.TTL(ctx, s.explorer.cache.rk(keyValidator(vs.Validators[0].ID))).Val()
		activeTTL = rdb.TTL(ctx, s.explorer.cache.rk(keyActiveValidators)).Val()
		return len(missing) == 0 && validatorTTL > 0 && activeTTL > 0
	}
	for range 20 {
		if warmed() {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("after warming 20 times, Redis lacks %v", missing)
	}
	if validatorTTL <= 14*time.Minute || validatorTTL > ttlValidator {
		t.Errorf("validator key lives %v, want 15 min", validatorTTL)
	}
	if activeTTL <= 4*time.Minute || activeTTL > ttlActiveValidators {
		t.Errorf("active_validators lives %v, want 5 min", activeTTL)
	}
	if rows := rdb.ZRange(ctx, s.explorer.cache.rk(keyLeaderboard), 0, -1).Val(); len(rows) != 1 || !strings.Contains(rows[0], `"rank":1`) {
		t.Errorf("leaderboard sorted set %v", rows)
	}
}
