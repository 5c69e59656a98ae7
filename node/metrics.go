package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics of the node itself, in namespace bizra, subsystem node.
type Metrics struct {
	// Info is 1, labelled with the version, chain id and moniker.
	Info *prometheus.GaugeVec
	// StartTime is the unix time the node started.
	StartTime prometheus.Gauge
}

// newRegistry returns the node's registry with the Go runtime and process
// collectors (resident memory, file descriptors, CPU).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewMetrics registers the node metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "bizra", "node"
	m := &Metrics{
		Info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "info",
			Help: "Always 1; labels identify the node.",
		}, []string{"version", "chain_id", "moniker"}),
		StartTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "start_time_seconds",
			Help: "Unix time the node started.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Info, m.StartTime)
	}
	return m
}

// metricsServer serves /metrics on its own address.
type metricsServer struct {
	addr  string
	reg   *prometheus.Registry
	log   *slog.Logger
	pprof bool // also serve the Go profiler under /debug/pprof/

	mu    sync.Mutex
	bound string
	srv   *http.Server
	done  chan struct{}
}

func (m *metricsServer) Name() string { return "metrics" }

func (m *metricsServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError)}))
	if m.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	m.mu.Lock()
	m.bound = ln.Addr().String()
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.done = make(chan struct{})
	m.mu.Unlock()
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics server", "err", err)
		}
	}()
	m.log.Info("serving metrics", "addr", "http://"+m.bound+"/metrics")
	return nil
}

// Stop waits up to 3 s for scrapes in progress, then closes what remains.
func (m *metricsServer) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		if err := m.srv.Close(); err != nil {
			return err
		}
	}
	<-m.done
	return nil
}

// Addr returns the bound address, once started.
func (m *metricsServer) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bound
}
