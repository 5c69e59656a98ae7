package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/node0/rpc"
)

// ReadConfig describes a load of read calls.
type ReadConfig struct {
	Endpoint string
	Method   string
	Params   []any
	// Rate is the calls per second, scheduled open-loop; 0 sends as fast
	// as Conns callers get answers.
	Rate     float64
	Duration time.Duration
	Conns    int
}

// Validate reports every problem at once.
func (c ReadConfig) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		errs = append(errs, fmt.Errorf("endpoint %q must be an http:// or https:// URL", c.Endpoint))
	}
	if c.Method == "" {
		errs = append(errs, errors.New("a method is required"))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g must not be negative", c.Rate))
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("duration %s must be between 0 and 24h", c.Duration))
	}
	if c.Conns < 1 || c.Conns > 4096 {
		errs = append(errs, fmt.Errorf("conns %d must be between 1 and 4096", c.Conns))
	}
	return errors.Join(errs...)
}

// ReadReport is what a read load measured.
type ReadReport struct {
	Method   string  `json:"method"`
	Calls    int     `json:"calls"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"calls_per_second"`
	Target   float64 `json:"target_per_second"`
	Latency  Latency `json:"latency"`
	Behind   int     `json:"calls_started_late"` // started over 1 ms after their slot
	FirstErr string  `json:"first_error,omitempty"`
}

// RunReads makes the calls and reports. At a fixed rate each call is
// scheduled at start + k/rate and timed from that slot, not from when it
// was actually sent, so that a server that falls behind shows its queue in
// the latency.
func RunReads(ctx context.Context, cfg ReadConfig) (*ReadReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := rpc.NewClient(cfg.Endpoint, cfg.Conns)
	if err := c.Call(ctx, nil, cfg.Method, cfg.Params...); err != nil {
		return nil, fmt.Errorf("load: trial call of %s: %w", cfg.Method, err)
	}
	rep := &ReadReport{Method: cfg.Method, Target: cfg.Rate}
	var mu sync.Mutex
	var lat []float64
	var calls, errs, behind atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	end := start.Add(cfg.Duration)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			var raw json.RawMessage
			for ctx.Err() == nil {
				slot := time.Now()
				if cfg.Rate > 0 {
					k := next.Add(1) - 1
					slot = start.Add(time.Duration(float64(k) / cfg.Rate * float64(time.Second)))
					if !slot.Before(end) {
						break
					}
					if d := time.Until(slot); d > 0 {
						time.Sleep(d)
					} else if d < -time.Millisecond {
						behind.Add(1)
					}
				} else if !slot.Before(end) {
					break
				}
				err := c.Call(ctx, &raw, cfg.Method, cfg.Params...)
				mine = append(mine, float64(time.Since(slot).Microseconds())/1000)
				calls.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rep.Calls, rep.Errors, rep.Behind = int(calls.Load()), int(errs.Load()), int(behind.Load())
	rep.PerSec = float64(rep.Calls) / rep.Seconds
	rep.Latency = latencyOf(lat)
	if s, ok := firstErr.Load().(string); ok {
		rep.FirstErr = s
	}
	return rep, nil
}
