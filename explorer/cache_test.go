package explorer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLocalCache(t *testing.T) {
	l := newLocalCache(time.Minute, 10)
	gen := l.generation()
	if !l.put("blocks:latest:20", []byte("a"), gen) || !l.put("blocks:latest:5", []byte("b"), gen) || !l.put("stats", []byte("c"), gen) {
		t.Fatal("put refused at the current generation")
	}
	// A load that started before an invalidation is not stored.
	old := l.generation()
	l.drop([]string{"blocks:latest"})
	if _, ok := l.get("blocks:latest:20"); ok {
		t.Fatal("prefix drop left blocks:latest:20")
	}
	if _, ok := l.get("stats"); !ok {
		t.Fatal("drop of blocks:latest removed stats")
	}
	if l.put("blocks:latest:20", []byte("stale"), old) {
		t.Fatal("a value loaded before the drop was stored")
	}
	// Short-lived entries expire.
	l.putFor("addr:x", []byte("p"), 20*time.Millisecond)
	if v, ok := l.get("addr:x"); !ok || string(v) != "p" {
		t.Fatal("putFor entry missing")
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok := l.get("addr:x"); ok {
		t.Fatal("putFor entry outlived its lifetime")
	}
	// The cache stays within its bound.
	for i := 0; i < 100; i++ {
		l.put(fmt.Sprint("k", i), []byte("v"), l.generation())
	}
	if n := len(l.entries); n > 10 {
		t.Fatalf("%d entries in a cache of 10", n)
	}
}

func TestCacheWithoutRedis(t *testing.T) {
	cfg := DefaultConfig()
	m := NewMetrics(nil)
	c := NewCache(nil, cfg, m, slog.New(slog.DiscardHandler))
	loads := 0
	load := func(context.Context) ([]byte, error) { loads++; return []byte("v"), nil }
	for i := 0; i < 3; i++ {
		if v, err := c.Get(context.Background(), "k", "", time.Minute, load); err != nil || string(v) != "v" {
			t.Fatalf("Get: %q %v", v, err)
		}
	}
	if loads != 1 || counterOf(m.CacheRequests.WithLabelValues("local", "hit")) != 2 {
		t.Fatalf("%d loads, %v local hits", loads, counterOf(m.CacheRequests.WithLabelValues("local", "hit")))
	}
	c.Invalidate(context.Background(), "k")
	c.Get(context.Background(), "k", "", time.Minute, load)
	if loads != 2 {
		t.Fatalf("invalidated key not loaded again (%d loads)", loads)
	}
}

// TestCacheNamespaces: explorers of different databases share a Redis server
// without reading each other's keys (two devnets' explorers once served
// each other's statistics).
func TestCacheNamespaces(t *testing.T) {
	url := testRedis(t)
	cfg := DefaultConfig()
	open := func(ns string) *Cache {
		rdb, err := openRedis(context.Background(), url, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		c := NewCache(rdb, cfg, NewMetrics(nil), slog.New(slog.DiscardHandler))
		c.SetNamespace(ns)
		return c
	}
	a, b := open("db-a"), open("db-b")
	ctx := context.Background()
	a.Set(ctx, keyStats, []byte("a"), time.Minute, a.local.generation())
	v, err := b.Get(ctx, keyStats, "", time.Minute, func(context.Context) ([]byte, error) { return []byte("b"), nil })
	if err != nil || string(v) != "b" {
		t.Fatalf("namespace b read %q, %v", v, err)
	}
	a2 := open("db-a") // another process on database a: shares the key
	v, err = a2.Get(ctx, keyStats, "", time.Minute, func(context.Context) ([]byte, error) { return []byte("loaded"), nil })
	if err != nil || string(v) != "a" {
		t.Fatalf("a second process on database a read %q, %v", v, err)
	}
}

// TestInvalidationDuringOutage: a key invalidated while Redis is away is
// deleted from Redis before Redis is read again, so the value cached before
// the outage is not served after it.
func TestInvalidationDuringOutage(t *testing.T) {
	u := testRedis(t)
	opt := mustRedisOptions(t)
	px := newProxy(t, opt.Addr)
	rdb, err := openRedis(context.Background(), strings.Replace(u, opt.Addr, px.addr, 1), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	m := NewMetrics(nil)
	c := NewCache(rdb, DefaultConfig(), m, slog.New(slog.DiscardHandler))
	c.SetNamespace("outage")
	ctx := context.Background()
	c.Set(ctx, keyStats, []byte("old"), time.Minute, c.local.generation())

	px.cut()
	c.Invalidate(ctx, keyStats) // Redis misses this deletion
	px.up(t)
	waitFor(t, 5*time.Second, "Redis to be tried again", func() bool { return c.redisOK() })
	v, err := c.Get(ctx, keyStats, "", time.Minute, func(context.Context) ([]byte, error) { return []byte("new"), nil })
	if err != nil || string(v) != "new" {
		t.Fatalf("after the outage the cache served %q (%v), want the freshly loaded value", v, err)
	}
}
