package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options carry what the server needs besides its config.
type Options struct {
	Metrics *Metrics
	Logger  *slog.Logger
	// ClientVersion answers web3_clientVersion.
	ClientVersion string
	// Node answers bizra_status, bizra_validators, bizra_peers,
	// net_peerCount and eth_syncing; nil gives a status made from the chain
	// alone, no peers, and a node that is not syncing.
	Node Node
	// TxMessages maps the pool's rejection rules to the Ethereum messages
	// clients expect ("already known", "replacement transaction
	// underpriced", …); the chain rules' messages are rpc's own, and an
	// error no rule matches reaches the client as its own text.
	TxMessages TxMessages
	// SuggestedTip answers eth_maxPriorityFeePerGas, in wei; zero means
	// 1 gwei.
	SuggestedTip uint64
	// Feed carries events to the server's WebSocket subscribers; nil makes
	// one that nothing feeds (a server without subscriptions to serve).
	Feed *Feed
}

// Server is the JSON-RPC server. It is safe for concurrent use.
type Server struct {
	cfg     Config
	chain   Chain
	pool    Pool
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	methods map[string]method
	limiter *limiter

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	wsConns  map[*wsConn]struct{}
	feed     *Feed
	stopping bool
}

// method answers one call. conn is the WebSocket connection of the call,
// nil over HTTP.
type method func(ctx context.Context, conn *wsConn, params json.RawMessage) (any, error)

// NewServer builds a server; Start listens.
func NewServer(cfg Config, c Chain, p Pool, o Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SuggestedTip == 0 {
		o.SuggestedTip = 1_000_000_000
	}
	s := &Server{
		cfg: cfg, chain: c, pool: p, opts: o,
		log:     o.Logger.With("module", "rpc"),
		metrics: o.Metrics,
		wsConns: make(map[*wsConn]struct{}),
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	if s.feed = o.Feed; s.feed == nil {
		s.feed = NewFeed(c, o.Logger)
	}
	s.methods = s.api()
	return s, nil
}

// Handler returns the HTTP handler: JSON-RPC over POST, WebSocket on
// upgrade. Start serves it; tests may mount it themselves.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on the configured address.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("rpc: listen on %s: %w", s.cfg.ListenAddr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Bound the body read and the answer; WebSocket connections
		// clear these deadlines when they upgrade and keep their own.
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("rpc server", "err", err)
		}
	}()
	s.log.Info("serving JSON-RPC", "http", "http://"+ln.Addr().String(), "ws", "ws://"+ln.Addr().String())
	return nil
}

// Addr returns the bound address once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and every WebSocket connection and waits for
// requests in progress, at most 3 s; then it closes whatever connections
// remain (a client may hold a connection open without sending on it).
func (s *Server) Stop() error {
	s.mu.Lock()
	s.stopping = true
	conns := make([]*wsConn, 0, len(s.wsConns))
	for c := range s.wsConns {
		conns = append(conns, c)
	}
	srv := s.srv
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		s.log.Debug("closing connections that did not finish", "err", err)
		if err := srv.Close(); err != nil {
			return err
		}
	}
	<-s.done
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r) {
		return
	}
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.serveWS(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "JSON-RPC takes POST requests (or a WebSocket upgrade)", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, appendResponse(nil, nil, nil, &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)}))
			return
		}
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	out := s.handle(ctx, clientKey(r.RemoteAddr), nil, body)
	if out == nil { // notifications only
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// cors answers a preflight request, or sets the CORS headers of an allowed
// origin; it reports whether the request is fully answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 || !s.originAllowed(origin) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func clientKey(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// handle answers a body (one call or a batch) and returns the response, or
// nil when every call was a notification.
func (s *Server) handle(ctx context.Context, client string, conn *wsConn, body []byte) []byte {
	d, derr := decodeBody(body, s.cfg.MaxBatch)
	if derr != nil {
		return appendResponse(nil, nil, nil, derr)
	}
	if s.limiter != nil && !s.limiter.allow(client, len(d.calls)) {
		s.metrics.Requests.WithLabelValues("any", "limited").Add(float64(len(d.calls)))
		e := &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("rate limit of %g calls per second exceeded", s.cfg.RateLimit)}
		if !d.batch {
			return appendResponse(nil, d.calls[0].req.ID, nil, e)
		}
		return appendResponse(nil, nil, nil, e)
	}
	var out []byte
	if d.batch {
		out = append(out, '[')
	}
	wrote := false
	for _, c := range d.calls {
		var res []byte
		var rerr *Error
		if len(out) > s.cfg.MaxResponseBytes {
			rerr = &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("answer exceeds %d bytes; ask for less in one request", s.cfg.MaxResponseBytes), Data: DataTooLarge}
		} else {
			res, rerr = s.call(ctx, conn, c)
		}
		if c.err == nil && c.req.ID == nil {
			continue // a notification gets no answer
		}
		if d.batch && wrote {
			out = append(out, ',')
		}
		out = appendResponse(out, c.req.ID, res, rerr)
		wrote = true
	}
	if !wrote {
		return nil
	}
	if d.batch {
		out = append(out, ']')
	}
	return out
}

// call runs one call and returns its encoded result or its error.
func (s *Server) call(ctx context.Context, conn *wsConn, c call) ([]byte, *Error) {
	if c.err != nil {
		return nil, c.err
	}
	m, ok := s.methods[c.req.Method]
	if !ok {
		s.metrics.Requests.WithLabelValues("unknown", "not_found").Inc()
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", c.req.Method)}
	}
	start := time.Now()
	if err := ctx.Err(); err != nil {
		s.metrics.Requests.WithLabelValues(c.req.Method, "error").Inc()
		return nil, errServer("request timed out")
	}
	res, err := m(ctx, conn, c.req.Params)
	s.metrics.Latency.WithLabelValues(c.req.Method).Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.Requests.WithLabelValues(c.req.Method, "error").Inc()
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		s.log.Warn("internal error", "method", c.req.Method, "err", err)
		return nil, &Error{Code: CodeInternal, Message: "internal error: " + err.Error()}
	}
	s.metrics.Requests.WithLabelValues(c.req.Method, "ok").Inc()
	if raw, ok := res.(json.RawMessage); ok {
		return raw, nil
	}
	b, merr := json.Marshal(res)
	if merr != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error: encoding the result: " + merr.Error()}
	}
	return b, nil
}

// limiter is a token bucket per client address.
type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	b     map[string]*bucket
	seen  int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), b: make(map[string]*bucket)}
}

// allow takes n tokens from the client's bucket.
func (l *limiter) allow(client string, n int) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b[client]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.b[client] = b
		if l.seen++; l.seen%1024 == 0 {
			l.forgetIdle(now)
		}
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// forgetIdle drops full buckets, so that the map does not grow with every
// address ever seen.
func (l *limiter) forgetIdle(now time.Time) {
	for k, b := range l.b {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.b, k)
		}
	}
}

// gasLimit is the block gas limit of the chain.
func (s *Server) gasLimit() uint64 { return gasLimit(s.chain) }

// gasLimit is the chain's block gas limit.
func gasLimit(c Chain) uint64 { return c.Genesis().Limits.BlockGasLimit }
