package p2p

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storedBlocks serves heights 1..head, each a block of size bytes, copied
// out of a shared buffer as a store read copies them; read counts the
// bytes it produced, the bytes the server read for its peers.
type storedBlocks struct {
	head  uint64
	block []byte
	read  atomic.Int64
	calls atomic.Int64
}

func newStoredBlocks(head uint64, size int) *storedBlocks {
	return &storedBlocks{head: head, block: bytes.Repeat([]byte{0xb1}, size)}
}

func (s *storedBlocks) serve(from uint64, max, maxBytes int) ([][]byte, error) {
	s.calls.Add(1)
	var out [][]byte
	total := 0
	for h := from; h <= s.head && len(out) < max; h++ {
		if h == 0 {
			continue
		}
		b := bytes.Clone(s.block)
		s.read.Add(int64(len(b)))
		if total+len(b) > maxBytes {
			break
		}
		total += len(b)
		out = append(out, b)
	}
	return out, nil
}

// A peer that never passed the status handshake is not served: before the
// fix the server read (and sent) blocks for it.
func TestSyncRefusesPeerWithoutHandshake(t *testing.T) {
	cfg := testConfig()
	cfg.DHT = false
	store := newStoredBlocks(64, 256<<10)
	server := newHost(t, "server", cfg, Options{Head: func() uint64 { return store.head }, Blocks: store.serve})
	raw := newRawPeer(t, statusSilent, 0)
	raw.connect(server)
	if hasPeer(server, raw.id()) {
		t.Fatal("a silent peer passed the handshake")
	}
	res := raw.requestSync(server, 1, MaxSyncBlocks)
	t.Logf("unverified peer: 13-byte request, %d blocks and %d bytes back, server read %d bytes (err %v)",
		res.blocks, res.bytes, store.read.Load(), res.err)
	if res.blocks != 0 || store.read.Load() != 0 {
		t.Fatalf("served a peer without a handshake: %d blocks, %d bytes read", res.blocks, store.read.Load())
	}
}

// A verified peer flooding sync requests is held to the configured rates,
// and two together to the node's total, and no request makes the server
// read more than one response's budget.
func TestSyncFloodIsBounded(t *testing.T) {
	const (
		blockSize = 256 << 10
		floodFor  = 5 * time.Second
	)
	cfg := testConfig()
	cfg.DHT = false
	cfg.SyncServeRequests = 20
	cfg.SyncServeBytes = 8 * mib
	cfg.SyncServeTotalBytes = 12 * mib
	store := newStoredBlocks(MaxSyncBlocks, blockSize)
	server := newHost(t, "server", cfg, Options{Head: func() uint64 { return store.head }, Blocks: store.serve})
	attackers := []*rawPeer{newRawPeer(t, statusAnswer, 0), newRawPeer(t, statusAnswer, 0)}
	for _, a := range attackers {
		a.connectVerified(server)
	}

	before := heapInUse()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if h := heapInUseNoGC(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	})
	type tally struct{ requests, served, refused, bytes atomic.Int64 }
	tallies := make([]tally, len(attackers))
	ctx, cancel := context.WithTimeout(context.Background(), floodFor)
	defer cancel()
	var wg sync.WaitGroup
	for i, a := range attackers {
		for range 2 { // the resource manager admits 2 inbound sync streams a peer
			wg.Go(func() {
				for n := 0; n < 100_000 && ctx.Err() == nil; n++ {
					res := a.requestSync(server, 1, MaxSyncBlocks)
					tallies[i].requests.Add(1)
					tallies[i].bytes.Add(res.bytes)
					if res.blocks > 0 {
						tallies[i].served.Add(1)
					} else {
						tallies[i].refused.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	close(stopSampling)
	sampler.Wait()
	secs := floodFor.Seconds()

	var served int64
	perPeer := float64(cfg.SyncServeBytes)*secs + float64(syncBytesBurst(cfg.SyncServeBytes))
	for i := range tallies {
		tl := &tallies[i]
		got := tl.bytes.Load()
		t.Logf("attacker %d: %d requests (%d served, %d refused), %.1f MiB received, %.1f MiB/s",
			i, tl.requests.Load(), tl.served.Load(), tl.refused.Load(), float64(got)/mib, float64(got)/mib/secs)
		if float64(got) > perPeer {
			t.Errorf("attacker %d was sent %.1f MiB, above its limit of %.1f MiB", i, float64(got)/mib, perPeer/mib)
		}
		served += got
	}
	read := store.read.Load()
	t.Logf("server: %d serve calls, read %.1f MiB (%.1f MiB/s), sent %.1f MiB (%.1f MiB/s); %.1f MiB read per 13-byte request served; heap %.0f MiB before, peak %.0f MiB",
		store.calls.Load(), float64(read)/mib, float64(read)/mib/secs, float64(served)/mib, float64(served)/mib/secs,
		float64(read)/mib/float64(max(store.calls.Load(), 1)), float64(before)/mib, float64(peak.Load())/mib)

	// A response's budget bounds every read: what fits in it, and the one
	// block that did not fit.
	if perCall := read / max(store.calls.Load(), 1); perCall > MaxSyncResponseBytes+blockSize {
		t.Errorf("the server read %d bytes a request, more than a response's %d and a block", perCall, MaxSyncResponseBytes)
	}
	// The total rate bounds the two together: the rate over the flood and
	// the burst the buckets start with.
	limit := float64(cfg.SyncServeTotalBytes)*secs + float64(syncBytesBurst(cfg.SyncServeTotalBytes))
	if float64(read) > limit {
		t.Errorf("the server read %.1f MiB in %s, above its total limit of %.1f MiB", float64(read)/mib, floodFor, limit/mib)
	}
	if served == 0 {
		t.Error("nothing was served: the test proves nothing")
	}
}

// A peer that advertises heights and then answers empty for them is
// penalised and, after a few such answers, disconnected.
func TestSyncPenalisesWithholdingPeer(t *testing.T) {
	cfg := testConfig()
	cfg.DHT = false
	client := newHost(t, "client", cfg, Options{})
	liar := newRawPeer(t, statusAnswer, 100)
	var asked atomic.Int64
	liar.serveSync(func(syncRequest) [][]byte { asked.Add(1); return nil })
	liar.connectVerified(client)
	waitFor(t, 10*time.Second, "the liar's height", func() bool { return client.BestHeight() == 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetches := 0
	for ; fetches < 10 && liar.connected(client) && hasPeer(client, liar.id()); fetches++ {
		if _, err := client.Fetch(ctx, 1, 32); err == nil {
			t.Fatal("Fetch got blocks from a peer that serves none")
		}
	}
	t.Logf("%d fetches, %d requests answered empty by a peer advertising height 100; still connected: %v; disconnects{withheld} %v",
		fetches, asked.Load(), hasPeer(client, liar.id()), counter(client.met.Disconnects.WithLabelValues("withheld")))
	if hasPeer(client, liar.id()) {
		t.Fatalf("after %d empty answers for heights it advertised the peer is still listed", asked.Load())
	}
	if got := counter(client.met.Disconnects.WithLabelValues("withheld")); got != 1 {
		t.Errorf("disconnects{withheld} = %v, want 1", got)
	}
}
