package testnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// LoadWindow is what the measured window saw: sending from the end of the
// warm-up to the end of the duration (or of sending, if that came first).
type LoadWindow struct {
	StartSeconds float64 `json:"start_s"` // after the start of sending
	Seconds      float64 `json:"seconds"`
	// Requests counts the transfer attempts sent in the window.
	Requests    int     `json:"requests"`
	RequestsPS  float64 `json:"requests_per_s"`
	Committed   int     `json:"committed"` // transactions in the blocks made in the window
	CommittedPS float64 `json:"committed_tps"`
	Blocks      int     `json:"blocks"`
	// The window's blocks are those whose timestamp falls in it (the
	// nodes' clock: on one host, the tool's). Block intervals are between
	// the timestamps of each of them and its parent.
	BlockIntervalMs    float64 `json:"avg_block_interval_ms"`
	BlockIntervalP95Ms float64 `json:"p95_block_interval_ms"`
	BlockIntervalMaxMs float64 `json:"max_block_interval_ms"`
	TxsPerBlock        float64 `json:"avg_txs_per_block"`
	// Inclusion covers the accepted transfers whose accepted attempt was
	// sent in the window, wherever their block came.
	Inclusion Latency `json:"inclusion"`
	// The client's CPU time over the window (this whole process), its
	// cores, and its µs per request sent in the window.
	ClientCPUSeconds   float64 `json:"client_cpu_s"`
	ClientCores        float64 `json:"client_cores"`
	ClientUsPerRequest float64 `json:"client_us_per_request"`
	// The nodes' CPU time over the window, summed over the metrics
	// endpoints; their cores; and µs per committed transaction per node
	// (the sum ÷ Committed ÷ Nodes). Zero without metrics endpoints;
	// MetricsError says why a scrape failed, leaving these zero.
	Nodes              int     `json:"nodes"`
	NodeCPUSeconds     float64 `json:"node_cpu_s"`
	NodeCores          float64 `json:"node_cores"`
	NodeUsPerTxPerNode float64 `json:"node_us_per_committed_tx_per_node"`
	MetricsError       string  `json:"metrics_error,omitempty"`
}

// windowMark is what the window's start or end captured.
type windowMark struct {
	at        time.Time
	clientCPU time.Duration
	requests  int64
	nodeCPU   []float64
	err       error
}

// mark captures a window mark: the time, this process's CPU time, the
// attempts sent so far, and the nodes' CPU seconds.
func (r *loadRun) mark(ctx context.Context) windowMark {
	m := windowMark{at: time.Now(), clientCPU: processCPU(), requests: r.sent.Load()}
	if len(r.cfg.Metrics) > 0 {
		m.nodeCPU, m.err = scrapeCPU(ctx, r.metricsHTTP, r.cfg.Metrics)
	}
	return m
}

// measureWindow marks the window's start at start+warmup and its end at
// start+duration, or both when sending ends (sendDone closes) first. It
// returns the two marks on out.
func (r *loadRun) measureWindow(ctx context.Context, start time.Time, sendDone <-chan struct{}, out chan<- [2]windowMark) {
	wait := func(until time.Time) {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-t.C:
		case <-sendDone:
		case <-ctx.Done():
		}
	}
	wait(start.Add(r.cfg.Warmup))
	first := r.mark(ctx)
	if r.cfg.Duration > 0 {
		wait(start.Add(r.cfg.Duration))
	} else {
		wait(start.Add(100 * 365 * 24 * time.Hour)) // until sending ends
	}
	out <- [2]windowMark{first, r.mark(ctx)}
}

// fillWindow derives the window's figures from its marks, the blocks the
// follower saw and the transfers' send times. The follower must have
// stopped.
func (r *loadRun) fillWindow(marks [2]windowMark, follow *follower, start time.Time) {
	w := &r.rep.Window
	a, b := marks[0], marks[1]
	w.StartSeconds = a.at.Sub(start).Seconds()
	w.Seconds = b.at.Sub(a.at).Seconds()
	w.Requests = int(b.requests - a.requests)
	lo, hi := a.at.UnixMilli(), b.at.UnixMilli()
	var lat []float64
	for _, t := range r.txs {
		if t.flags.Load()&(flagAccepted|flagCommitted) == flagAccepted|flagCommitted && t.sentMs >= lo && t.sentMs <= hi {
			lat = append(lat, float64(t.seenMs.Load()-t.sentMs))
		}
	}
	w.Inclusion = latencyOf(lat)
	follow.mu.Lock()
	var intervals []float64
	for i, blk := range follow.blocks {
		// By the block's own timestamp: a follower that falls behind
		// sees blocks late, in bursts.
		if blk.tsMs < lo || blk.tsMs > hi {
			continue
		}
		w.Blocks++
		w.Committed += blk.txs
		if i > 0 && follow.blocks[i-1].number+1 == blk.number {
			intervals = append(intervals, float64(blk.tsMs-follow.blocks[i-1].tsMs))
		}
	}
	follow.mu.Unlock()
	if len(intervals) > 0 {
		sum := 0.0
		for _, v := range intervals {
			sum += v
		}
		w.BlockIntervalMs = sum / float64(len(intervals))
		l := latencyOf(intervals)
		w.BlockIntervalP95Ms, w.BlockIntervalMaxMs = l.P95, l.Max
	}
	if w.Blocks > 0 {
		w.TxsPerBlock = float64(w.Committed) / float64(w.Blocks)
	}
	if w.Seconds <= 0 {
		return
	}
	w.RequestsPS = float64(w.Requests) / w.Seconds
	w.CommittedPS = float64(w.Committed) / w.Seconds
	w.ClientCPUSeconds = (b.clientCPU - a.clientCPU).Seconds()
	w.ClientCores = w.ClientCPUSeconds / w.Seconds
	if w.Requests > 0 {
		w.ClientUsPerRequest = w.ClientCPUSeconds * 1e6 / float64(w.Requests)
	}
	if len(r.cfg.Metrics) == 0 {
		return
	}
	if err := errors.Join(a.err, b.err); err != nil {
		w.MetricsError = err.Error()
		return
	}
	w.Nodes = len(r.cfg.Metrics)
	for i := range a.nodeCPU {
		w.NodeCPUSeconds += b.nodeCPU[i] - a.nodeCPU[i]
	}
	w.NodeCores = w.NodeCPUSeconds / w.Seconds
	if w.Committed > 0 {
		w.NodeUsPerTxPerNode = w.NodeCPUSeconds * 1e6 / float64(w.Committed) / float64(w.Nodes)
	}
}

// scrapeCPU reads process_cpu_seconds_total from every metrics endpoint at
// once.
func scrapeCPU(ctx context.Context, c *http.Client, urls []string) ([]float64, error) {
	out := make([]float64, len(urls))
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = scrapeOne(ctx, c, u)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func scrapeOne(ctx context.Context, c *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("load: metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("load: metrics %s: HTTP %d", url, resp.StatusCode)
	}
	v, err := ParseCPUSeconds(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("load: metrics %s: %w", url, err)
	}
	return v, nil
}

// ErrNoCPUMetric is returned by ParseCPUSeconds for an exposition without
// process_cpu_seconds_total.
var ErrNoCPUMetric = errors.New("load: no process_cpu_seconds_total sample")

// cpuMetric is the process collector's CPU time counter.
const cpuMetric = "process_cpu_seconds_total"

// ParseCPUSeconds reads the value of process_cpu_seconds_total from a
// Prometheus text exposition: the first sample of that name, labels or
// not, a finite non-negative number.
func ParseCPUSeconds(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		rest, ok := bytes.CutPrefix(line, []byte(cpuMetric))
		if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			end := bytes.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("load: %s: unterminated labels", cpuMetric)
			}
			rest = rest[end+1:]
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("load: %s: no value", cpuMetric)
		}
		v, err := strconv.ParseFloat(string(fields[0]), 64)
		if err != nil || v < 0 || v != v || v > 1e15 {
			return 0, fmt.Errorf("load: %s: bad value %q", cpuMetric, fields[0])
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, ErrNoCPUMetric
}
