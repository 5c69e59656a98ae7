package rpc

import (
	"errors"
	"strings"
	"time"

	"github.com/bizra/node0/internal/config"
)

// Config bounds the server. DefaultConfig documents the defaults; the toml
// and doc tags are the [rpc] section of a node's config file.
type Config struct {
	// ListenAddr serves HTTP and WebSocket.
	ListenAddr string `toml:"listen_addr" doc:"Address of JSON-RPC over HTTP and WebSocket, host:port (port 0 picks a free one). The default is local only; expose it deliberately."`
	// MaxBodyBytes bounds one HTTP request or WebSocket message.
	MaxBodyBytes int64 `toml:"max_body_bytes" doc:"Largest request body or WebSocket message, in bytes."`
	// MaxBatch bounds the calls in one batch; MaxResponseBytes bounds the
	// answer to one request (later calls of a batch get an error instead).
	MaxBatch         int `toml:"max_batch" doc:"Most calls in one batch."`
	MaxResponseBytes int `toml:"max_response_bytes" doc:"Largest answer to one request, in bytes; a larger one is refused with code -32005."`
	// RateLimit is the calls per second one client address may make (each
	// call of a batch counts), with bursts of RateBurst; 0 turns it off.
	RateLimit float64 `toml:"rate_limit" doc:"Calls per second one client address may make (each call of a batch counts); 0 turns the limit off."`
	RateBurst int     `toml:"rate_burst" doc:"Calls one client address may make in a burst above rate_limit."`
	// RequestTimeout bounds one request or batch.
	RequestTimeout time.Duration `toml:"request_timeout" doc:"Longest time for one request or batch."`
	// MaxWSConns bounds open WebSocket connections; MaxSubscriptions bounds
	// the subscriptions of one connection.
	MaxWSConns       int `toml:"max_ws_conns" doc:"Open WebSocket connections at most; 0 turns WebSocket off."`
	MaxSubscriptions int `toml:"max_subscriptions" doc:"Subscriptions on one WebSocket connection at most."`
	// CORSOrigins lists the origins browsers may call from; empty means
	// CORS is off. "*" allows any.
	CORSOrigins []string `toml:"cors_origins" doc:"Origins browsers may call from, such as \"http://localhost:3000\", or \"*\" for any; empty keeps CORS off."`
}

// DefaultConfig serves 127.0.0.1:8545 with 5 MiB bodies, batches of up to
// 1,000 calls and 25 MiB answers, 100,000 calls per second per client address (bursts of
// 200,000), a 10 s timeout per request, 1,000 WebSocket connections with up
// to 100 subscriptions each, and CORS off.
func DefaultConfig() Config {
	return Config{
		ListenAddr:       "127.0.0.1:8545",
		MaxBodyBytes:     5 << 20,
		MaxBatch:         1000,
		MaxResponseBytes: 25 << 20,
		RateLimit:        100_000,
		RateBurst:        200_000,
		RequestTimeout:   10 * time.Second,
		MaxWSConns:       1000,
		MaxSubscriptions: 100,
		CORSOrigins:      []string{},
	}
}

// Validate reports every problem at once, joined, each a
// *config.FieldError keyed by its setting ("max_batch"); it never changes the
// config. NewServer refuses an invalid config with ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, config.Errorf(key, format, args...)) }
	if err := config.CheckListenAddr(c.ListenAddr); err != nil {
		bad("listen_addr", "%v", err)
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<30 {
		bad("max_body_bytes", "must be between 1024 and 1073741824, not %d", c.MaxBodyBytes)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100_000 {
		bad("max_batch", "must be between 1 and 100000, not %d", c.MaxBatch)
	}
	if c.MaxResponseBytes < 1<<16 {
		bad("max_response_bytes", "must be at least 65536, not %d", c.MaxResponseBytes)
	}
	if !(c.RateLimit >= 0) { // NaN too
		bad("rate_limit", "must be 0 (off) or more, not %g", c.RateLimit)
	}
	if c.RateLimit > 0 && c.RateBurst < 1 {
		bad("rate_burst", "must be positive when a rate limit is set, not %d", c.RateBurst)
	}
	if c.RequestTimeout < 10*time.Millisecond || c.RequestTimeout > time.Hour {
		bad("request_timeout", "must be between 10ms and 1h, not %s", config.FormatDuration(c.RequestTimeout))
	}
	if c.MaxWSConns < 0 {
		bad("max_ws_conns", "must be 0 (WebSocket off) or more, not %d", c.MaxWSConns)
	}
	if c.MaxSubscriptions < 1 {
		bad("max_subscriptions", "must be positive, not %d", c.MaxSubscriptions)
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			bad("cors_origins", "%q is not an origin such as http://localhost:3000 or *", o)
		}
	}
	return errors.Join(errs...)
}
