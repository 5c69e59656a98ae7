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
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bizra/node0/chain"
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
	// Admission, if set, is asked before each eth_sendRawTransaction is
	// decoded whether the node takes one more transaction from this client
	// now; a refusal is the CodeLimitExceeded "txpool is full" error with
	// PoolFull data.
	Admission Admission
}

// Admission is the door for client transactions (the node passes its
// mempool.Admission). client names the caller as the rate limit does: its
// IP address, or its /64 for IPv6.
type Admission interface {
	Admit(client string) (ok bool, reason string, retryAfter time.Duration)
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
	exempt  []netip.Prefix
	feed    *Feed
	// wsBacklog is wsBacklog; tests lower it.
	wsBacklog int
	// genesisHash is the chain's, hashed once.
	genesisHash chain.Hash
	blocks      blockCache

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	wsConns  map[*wsConn]struct{}
	clients  map[string]*clientHold // WebSocket connections and subscriptions by client
	stopping bool
}

// clientHold is what one client holds over WebSocket.
type clientHold struct{ conns, subs int }

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
		log:       o.Logger.With("module", "rpc"),
		metrics:   o.Metrics,
		wsConns:   make(map[*wsConn]struct{}),
		clients:   make(map[string]*clientHold),
		wsBacklog: wsBacklog,
	}
	if g := c.Genesis(); g != nil {
		s.genesisHash = g.Hash()
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	for _, e := range cfg.ExemptClients {
		p, _ := parsePrefix(e) // Validate has checked it
		s.exempt = append(s.exempt, p)
	}
	if s.feed = o.Feed; s.feed == nil {
		s.feed = NewFeed(c, o.Logger)
	}
	s.feed.setMetrics(o.Metrics)
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
	s.stopping = false
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
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && (s.cfg.RateLimit == 0 || s.cfg.RateLimit > 10*DefaultConfig().RateLimit) {
		s.log.Warn("JSON-RPC is reachable beyond this host with a rate limit that protects nothing (rpc.rate_limit; a config file written by an older release keeps its default of 100000)", "rate_limit", s.cfg.RateLimit)
	}
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
	if !s.hostAllowed(r.Host) {
		s.metrics.Refused.WithLabelValues("host").Inc()
		http.Error(w, fmt.Sprintf("host %q not allowed: add its name to rpc.allowed_hosts", r.Host), http.StatusForbidden)
		return
	}
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
	if !jsonContent(r) {
		s.metrics.Refused.WithLabelValues("content_type").Inc()
		http.Error(w, "JSON-RPC takes Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin, r.Host) {
		s.metrics.Refused.WithLabelValues("origin").Inc()
		http.Error(w, fmt.Sprintf("origin %q not allowed: add it to rpc.cors_origins", origin), http.StatusForbidden)
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
	out := s.handle(ctx, s.clientOf(r.RemoteAddr), nil, body)
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
	if origin == "" || len(s.cfg.CORSOrigins) == 0 || !s.originAllowed(origin, "") {
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

// handle answers a body (one call or a batch) and returns the response, or
// nil when every call was a notification. The answers together stay within
// max_response_bytes: each call gets what the answers before it left, and
// the first that does not fit is refused, as is every later call of the
// batch without being run; so the whole is at most the limit and a short
// refusal per call refused, and a client can send the refused calls again.
func (s *Server) handle(ctx context.Context, cl client, conn *wsConn, body []byte) []byte {
	d, derr := decodeBody(body, s.cfg.MaxBatch)
	if derr != nil {
		return appendResponse(nil, nil, nil, derr)
	}
	if s.limiter != nil && !cl.exempt && !s.limiter.allow(cl.key, len(d.calls)) {
		s.metrics.Requests.WithLabelValues("any", "limited").Add(float64(len(d.calls)))
		e := &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("rate limit of %g calls per second exceeded (rpc.rate_limit; each call of a batch counts)", s.cfg.RateLimit)}
		if !d.batch {
			return appendResponse(nil, d.calls[0].req.ID, nil, e)
		}
		return appendResponse(nil, nil, nil, e)
	}
	var out []byte
	if d.batch {
		out = append(out, '[')
	}
	wrote, full := false, false
	for _, c := range d.calls {
		// The room left, less the envelope of this answer and the
		// batch's closing bracket.
		b := budget{method: c.req.Method, limit: s.cfg.MaxResponseBytes, batch: d.batch && wrote, client: cl.key,
			left: s.cfg.MaxResponseBytes - len(out) - len(c.req.ID) - len(`,{"jsonrpc":"2.0","id":,"result":}]`)}
		if full {
			b.left = 0
		}
		res, rerr := s.call(ctx, conn, c, b)
		if rerr != nil && rerr.Data == DataTooLarge {
			full = true
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

// call runs one call within its budget and returns its encoded result or
// its error.
func (s *Server) call(ctx context.Context, conn *wsConn, c call, b budget) ([]byte, *Error) {
	if c.err != nil {
		return nil, c.err
	}
	m, ok := s.methods[c.req.Method]
	if !ok {
		s.metrics.Requests.WithLabelValues("unknown", "not_found").Inc()
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", c.req.Method)}
	}
	if b.left <= 0 {
		s.metrics.Requests.WithLabelValues(c.req.Method, "too_large").Inc()
		return nil, b.tooLarge("ask for less in one request")
	}
	start := time.Now()
	if err := ctx.Err(); err != nil {
		s.metrics.Requests.WithLabelValues(c.req.Method, "error").Inc()
		return nil, errServer("request timed out")
	}
	res, err := m(withBudget(ctx, b), conn, c.req.Params)
	s.metrics.Latency.WithLabelValues(c.req.Method).Observe(time.Since(start).Seconds())
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			outcome := "error"
			if e.Data == DataTooLarge {
				outcome = "too_large"
			}
			s.metrics.Requests.WithLabelValues(c.req.Method, outcome).Inc()
			return nil, e
		}
		s.metrics.Requests.WithLabelValues(c.req.Method, "error").Inc()
		s.log.Warn("internal error", "method", c.req.Method, "err", err)
		return nil, &Error{Code: CodeInternal, Message: "internal error: " + err.Error()}
	}
	raw, ok := res.(json.RawMessage)
	if !ok {
		var merr error
		if raw, merr = json.Marshal(res); merr != nil {
			s.metrics.Requests.WithLabelValues(c.req.Method, "error").Inc()
			return nil, &Error{Code: CodeInternal, Message: "internal error: encoding the result: " + merr.Error()}
		}
	}
	if len(raw) > b.left {
		s.metrics.Requests.WithLabelValues(c.req.Method, "too_large").Inc()
		return nil, b.tooLarge("ask for less in one request")
	}
	s.metrics.Requests.WithLabelValues(c.req.Method, "ok").Inc()
	return raw, nil
}

// gasLimit is the block gas limit of the chain.
func (s *Server) gasLimit() uint64 { return gasLimit(s.chain) }

// gasLimit is the chain's block gas limit.
func gasLimit(c Chain) uint64 { return c.Genesis().Limits.BlockGasLimit }
