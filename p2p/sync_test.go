package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Sync fetches a range from three peers in parallel, one of which serves
// corrupt blocks: its blocks fail apply, it is disconnected, its ranges are
// fetched again from the others, and every height is applied once, in
// order.
func TestSyncSurvivesCorruptPeer(t *testing.T) {
	const head = 300
	cfg := testConfig()
	cfg.DHT = false
	cfg.SyncBatch = 16
	cfg.SyncParallel = 3
	servers := []*Host{
		newHost(t, "s-good1", cfg, Options{Head: func() uint64 { return head }, Blocks: serveBlocks("block", head)}),
		newHost(t, "s-corrupt", cfg, Options{Head: func() uint64 { return head }, Blocks: serveBlocks("corrupt", head)}),
		newHost(t, "s-good2", cfg, Options{Head: func() uint64 { return head }, Blocks: serveBlocks("block", head)}),
	}
	corrupt := servers[1]
	for _, s := range servers {
		cfg.Bootstrap = append(cfg.Bootstrap, s.Addrs()[0])
	}
	client := newHost(t, "client", cfg, Options{})
	waitFor(t, 10*time.Second, "three peers at the head", func() bool {
		return client.PeerCount() == 3 && client.BestHeight() == head &&
			len(client.candidates(1)) == 3
	})

	next := uint64(1)
	var rejected int
	apply := func(height uint64, raw []byte) error {
		if height != next {
			t.Fatalf("applied height %d, expected %d", height, next)
		}
		if !bytes.Equal(raw, blockAt("block", height)) {
			rejected++
			return fmt.Errorf("bad block %q", raw)
		}
		next++
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The range in two calls: the second resumes where the first stopped.
	last, err := client.Sync(ctx, 1, 150, apply)
	if err != nil || last != 150 {
		t.Fatalf("Sync(1, 150) = %d, %v", last, err)
	}
	last, err = client.Sync(ctx, last+1, head, apply)
	if err != nil || last != head {
		t.Fatalf("Sync(151, %d) = %d, %v", head, last, err)
	}
	if next != head+1 {
		t.Fatalf("applied up to %d", next-1)
	}
	if got := counter(client.met.HeightsApplied); got != head {
		t.Errorf("sync_heights_applied_total = %v, want %d", got, head)
	}
	if rejected == 0 {
		t.Fatal("the corrupt peer was never asked: the test proves nothing")
	}
	if got := counter(client.met.Disconnects.WithLabelValues("sync")); got != 1 {
		t.Errorf("disconnects for sync = %v, want 1", got)
	}
	if hasPeer(client, corrupt.ID()) {
		t.Error("the corrupt peer is still listed")
	}

	// Fetch serves from the remaining peers.
	blocks, err := client.Fetch(ctx, 10, 5)
	if err != nil || len(blocks) != 5 || !bytes.Equal(blocks[0], blockAt("block", 10)) {
		t.Fatalf("Fetch(10, 5) = %d blocks, %v", len(blocks), err)
	}
	if _, err := client.Fetch(ctx, head+1, 5); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("Fetch beyond the head = %v, want ErrNoPeers", err)
	}
	if _, err := client.Sync(ctx, 5, 4, apply); !errors.Is(err, ErrBadRange) {
		t.Fatalf("Sync(5, 4) = %v, want ErrBadRange", err)
	}
}

// When no peer has the range, Sync stops with ErrNoPeers and reports the
// last height it applied.
func TestSyncStopsWithoutPeers(t *testing.T) {
	cfg := testConfig()
	cfg.DHT = false
	server := newHost(t, "short", cfg, Options{Head: func() uint64 { return 20 }, Blocks: serveBlocks("block", 20)})
	cfg.Bootstrap = server.Addrs()[:1]
	client := newHost(t, "wants-more", cfg, Options{})
	waitFor(t, 10*time.Second, "the server's height", func() bool { return client.BestHeight() == 20 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last, err := client.Sync(ctx, 1, 50, func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrNoPeers) || last != 20 {
		t.Fatalf("Sync(1, 50) = %d, %v; want 20, ErrNoPeers", last, err)
	}
}
