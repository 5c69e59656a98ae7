package p2p

import (
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// bucket is a token bucket: it fills at rate tokens a second up to burst,
// and starts full. It is not safe for concurrent use; its owner locks it.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = math.Min(b.burst, b.tokens+b.rate*dt.Seconds())
		b.last = now
	}
}

// take removes n tokens if the bucket holds them, and reports whether it
// did.
func (b *bucket) take(n float64, now time.Time) bool {
	b.refill(now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// give returns n tokens taken and not used.
func (b *bucket) give(n float64) { b.tokens = math.Min(b.burst, b.tokens+n) }

// serveLimiter holds block sync serving to the configured rates: requests
// and bytes a second from each peer, and bytes a second to all peers
// together. A request reserves the most bytes its response may hold
// before anything is read for it, and gives back what the response did not
// use once the blocks are read; so the bytes read for peers, and held in
// memory for them, follow the rates.
type serveLimiter struct {
	cfg Config

	mu    sync.Mutex
	total *bucket
	peers map[peer.ID]*peerBuckets // peers that asked, until they disconnect
}

type peerBuckets struct{ requests, bytes *bucket }

// Refusal reasons of the sync server.
const (
	refusedUnverified  = "unverified"  // the peer has not passed the status handshake
	refusedRequests    = "requests"    // the peer's request rate
	refusedBytes       = "bytes"       // the peer's byte rate
	refusedTotal       = "total"       // the byte rate of all peers together
	refusedUnavailable = "unavailable" // the node serves no blocks, or its store failed
)

func newServeLimiter(cfg Config, now time.Time) *serveLimiter {
	total := float64(cfg.SyncServeTotalBytes)
	return &serveLimiter{
		cfg:   cfg,
		total: newBucket(total, float64(syncBytesBurst(cfg.SyncServeTotalBytes)), now),
		peers: make(map[peer.ID]*peerBuckets),
	}
}

// admit takes one request and a reservation of reserve bytes for p; when
// a limit refuses, it takes nothing and returns the refusal reason.
func (l *serveLimiter) admit(p peer.ID, reserve int, now time.Time) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pb := l.peers[p]
	if pb == nil {
		rate := float64(l.cfg.SyncServeBytes)
		pb = &peerBuckets{
			requests: newBucket(l.cfg.SyncServeRequests, math.Max(1, l.cfg.SyncServeRequests), now),
			bytes:    newBucket(rate, float64(syncBytesBurst(l.cfg.SyncServeBytes)), now),
		}
		l.peers[p] = pb
	}
	n := float64(reserve)
	if !pb.requests.take(1, now) {
		return false, refusedRequests
	}
	if !pb.bytes.take(n, now) {
		return false, refusedBytes // the request token stays spent
	}
	if !l.total.take(n, now) {
		pb.bytes.give(n)
		return false, refusedTotal
	}
	return true, ""
}

// settle gives back the part of p's reservation its response did not use.
func (l *serveLimiter) settle(p peer.ID, unused int) {
	if unused <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := float64(unused)
	l.total.give(n)
	if pb := l.peers[p]; pb != nil {
		pb.bytes.give(n)
	}
}

// forget drops a disconnected peer's buckets.
func (l *serveLimiter) forget(p peer.ID) {
	l.mu.Lock()
	delete(l.peers, p)
	l.mu.Unlock()
}
