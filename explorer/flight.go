package explorer

import (
	"context"
	"fmt"
	"sync"
)

// flights coalesces concurrent loads of one cache key: the first miss of a
// key starts its load, and the misses that follow while it runs wait for
// its result instead of asking the database again. N clients missing one
// key at once make one query.
//
// A load belongs to the memory tier's generation it started at. A miss at
// a later generation (something was invalidated since the load began, so
// its result may predate the change) does not join it but starts a load of
// its own, which later misses join; so coalescing never hands a caller a
// value read before an invalidation it could have seen.
//
// The load runs in its own goroutine, with the values and the deadline of
// the context of the caller that started it but not its cancellation: a
// client that goes away does not fail the others waiting for the same
// key. Each caller waits only as long as its own context allows.
type flights[T any] struct {
	joined func() // called as a caller joins a load under way; may be nil

	mu sync.Mutex
	m  map[string]*flight[T]
}

type flight[T any] struct {
	gen  uint64
	done chan struct{} // closed when v and err are set
	v    T
	err  error
}

// do returns the result of load for key, run once for all the callers that
// ask for key at generation gen while it runs.
func (g *flights[T]) do(ctx context.Context, key string, gen uint64, load func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	f, joined := g.m[key]
	if joined && f.gen == gen {
		if g.joined != nil {
			g.joined()
		}
	} else {
		f = &flight[T]{gen: gen, done: make(chan struct{})}
		if g.m == nil {
			g.m = map[string]*flight[T]{}
		}
		g.m[key] = f
		go g.run(ctx, key, f, load)
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (g *flights[T]) run(ctx context.Context, key string, f *flight[T], load func(context.Context) (T, error)) {
	defer func() {
		// A panicking load fails its callers (as net/http would fail the
		// one request) rather than the process.
		if r := recover(); r != nil {
			f.err = fmt.Errorf("explorer: loading %s panicked: %v", key, r)
		}
		g.mu.Lock()
		if g.m[key] == f {
			delete(g.m, key)
		}
		g.mu.Unlock()
		close(f.done)
	}()
	lctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithDeadline(lctx, dl)
		defer cancel()
	}
	f.v, f.err = load(lctx)
}

// running tells how many loads are under way (for tests).
func (g *flights[T]) running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
