package p2p

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testChainID = 7

var testGenesis = sha256.Sum256([]byte("bizra test genesis"))

// testConfig is a host on 127.0.0.1 with short intervals, so that tests
// see status, discovery and bans quickly.
func testConfig() Config {
	c := DefaultConfig()
	c.ChainID = testChainID
	c.Genesis = testGenesis
	c.LowWater, c.HighWater = 16, 32
	c.StatusInterval = 200 * time.Millisecond
	c.DiscoveryInterval = 300 * time.Millisecond
	c.BanDuration = time.Minute
	c.SyncTimeout = 3 * time.Second
	return c
}

// testKey derives a deterministic key from a name.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("bizra p2p test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// logWriter sends logs to t.Log until the test ends.
type logWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
	name string
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s: %s", w.name, b)
	}
	return len(b), nil
}

// newHost starts a host named name whose Close runs at the end of the test.
func newHost(t testing.TB, name string, cfg Config, opts Options) *Host {
	t.Helper()
	w := &logWriter{t: t, name: name}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	h, err := New(testKey(name), cfg, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close(%s): %v", name, err)
		}
	})
	return h
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// receive waits for a message on ch whose data is want.
func receive(t testing.TB, ch <-chan Message, within time.Duration, want string) Message {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %q", want)
			}
			if string(m.Data) == want {
				return m
			}
		case <-timer.C:
			t.Fatalf("timed out after %s waiting for message %q", within, want)
		}
	}
}

// drain returns the payloads waiting on ch without blocking.
func drain(ch <-chan Message) []string {
	var out []string
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, string(m.Data))
		default:
			return out
		}
	}
}

func hasPeer(h *Host, id string) bool {
	return slices.ContainsFunc(h.Peers(), func(p PeerInfo) bool { return p.ID == id })
}

func topicHasPeer(t *Topic, id string) bool { return slices.Contains(t.Peers(), id) }

func counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func blockAt(prefix string, height uint64) []byte {
	return []byte(fmt.Sprintf("%s-%d", prefix, height))
}

// serveBlocks serves heights 1..head with blocks named by prefix.
func serveBlocks(prefix string, head uint64) func(uint64, int, int) ([][]byte, error) {
	return func(from uint64, max, maxBytes int) ([][]byte, error) {
		var out [][]byte
		total := 0
		for h := from; h <= head && len(out) < max; h++ {
			if h == 0 {
				continue
			}
			b := blockAt(prefix, h)
			if total+len(b) > maxBytes {
				break
			}
			total += len(b)
			out = append(out, b)
		}
		return out, nil
	}
}

// meshReady waits until every topic has received a message from every
// other one. GossipSub can lose a message published in the moment after a
// peer's subscription becomes known, before both sides have settled the
// peer; so tests wait on delivery itself rather than on peer lists or time.
// Each topic publishes a ready message every 100 ms until it is heard; the
// ready messages are left in the channels and skipped by receive.
func meshReady(t testing.TB, within time.Duration, topics ...*Topic) {
	t.Helper()
	heard := make([]map[string]bool, len(topics)) // heard[i][author]
	for i := range heard {
		heard[i] = make(map[string]bool)
	}
	complete := func() bool {
		for i := range topics {
			if len(heard[i]) < len(topics)-1 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; !complete(); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("mesh not ready after %s: heard %v", within, heard)
		}
		for i, tp := range topics {
			if err := tp.Publish([]byte(fmt.Sprintf("ready-%d-%d", i, n))); err != nil {
				t.Fatalf("publish ready: %v", err)
			}
		}
		<-tick.C
		for i, tp := range topics {
			for {
				select {
				case m := <-tp.Messages():
					if strings.HasPrefix(string(m.Data), "ready-") {
						heard[i][m.From] = true
					}
					continue
				default:
				}
				break
			}
		}
	}
}

// receiveAll waits until every payload in want has arrived on ch, and
// returns the messages by payload.
func receiveAll(t testing.TB, ch <-chan Message, within time.Duration, want ...string) map[string]Message {
	t.Helper()
	got := make(map[string]Message)
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		missing := 0
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %q", want)
			}
			got[string(m.Data)] = m
		case <-timer.C:
			t.Fatalf("timed out after %s waiting for %q; got %d of them", within, want, len(want)-missing)
		}
	}
}
