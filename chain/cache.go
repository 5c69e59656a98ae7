package chain

import (
	"sync"
	"sync/atomic"
)

// accountCache holds committed accounts in front of Pebble, in shards with
// a read-write lock each, padded to their own cache lines.
//
// Commits and fills are ordered by seq, a sequence lock: it is odd while a
// commit writes the store and the cache. A reader that missed the cache
// notes seq, reads Pebble, and inserts what it read only if seq was even
// and has not moved, and only if the key is still absent. A commit
// overwrites its keys after writing the store. So a value read before a
// commit can never land in the cache after it.
type accountCache struct {
	seq      atomic.Uint64
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 256

type cacheShard struct {
	mu sync.RWMutex
	m  map[Address]Account
	_  [32]byte // one shard per cache line
}

func newAccountCache(size int) *accountCache {
	c := &accountCache{perShard: max(size/cacheShards, 16)}
	for i := range c.shards {
		c.shards[i].m = make(map[Address]Account)
	}
	return c
}

func (c *accountCache) shard(a Address) *cacheShard { return &c.shards[a[19]] }

func (c *accountCache) get(a Address) (Account, bool) {
	s := c.shard(a)
	s.mu.RLock()
	v, ok := s.m[a]
	s.mu.RUnlock()
	return v, ok
}

func (c *accountCache) beginCommit() { c.seq.Add(1) }
func (c *accountCache) endCommit()   { c.seq.Add(1) }

// set stores a committed value; only the committing goroutine calls it.
func (c *accountCache) set(a Address, v Account) {
	s := c.shard(a)
	s.mu.Lock()
	s.m[a] = v
	c.evict(s)
	s.mu.Unlock()
}

// fill caches a value read from Pebble when seq was observed.
func (c *accountCache) fill(a Address, v Account, seq uint64) {
	if seq&1 != 0 {
		return
	}
	s := c.shard(a)
	s.mu.Lock()
	if c.seq.Load() == seq {
		if _, ok := s.m[a]; !ok {
			s.m[a] = v
			c.evict(s)
		}
	}
	s.mu.Unlock()
}

// evict drops about an eighth of a full shard; map iteration order is
// unspecified, so the victims are arbitrary. The caller holds s.mu.
func (c *accountCache) evict(s *cacheShard) {
	if len(s.m) <= c.perShard {
		return
	}
	drop := len(s.m) - c.perShard + c.perShard/8
	for k := range s.m {
		if drop == 0 {
			break
		}
		delete(s.m, k)
		drop--
	}
}
