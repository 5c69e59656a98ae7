package rpc

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config bounds the server. DefaultConfig documents the defaults.
type Config struct {
	// ListenAddr serves HTTP and WebSocket.
	ListenAddr string
	// MaxBodyBytes bounds one HTTP request or WebSocket message.
	MaxBodyBytes int64
	// MaxBatch bounds the calls in one batch; MaxResponseBytes bounds the
	// answer to one request (later calls of a batch get an error instead).
	MaxBatch         int
	MaxResponseBytes int
	// RateLimit is the calls per second one client address may make (each
	// call of a batch counts), with bursts of RateBurst; 0 turns it off.
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds one request or batch.
	RequestTimeout time.Duration
	// MaxWSConns bounds open WebSocket connections; MaxSubscriptions bounds
	// the subscriptions of one connection.
	MaxWSConns       int
	MaxSubscriptions int
	// CORSOrigins lists the origins browsers may call from; empty means
	// CORS is off. "*" allows any.
	CORSOrigins []string
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
	}
}

// Validate reports every problem at once; it never changes the config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if host, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("rpc.listen_addr %q is not host:port", c.ListenAddr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("rpc.listen_addr %q has an invalid port", c.ListenAddr)
	} else if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		bad("rpc.listen_addr %q: host must be an IP address or localhost", c.ListenAddr)
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<30 {
		bad("rpc.max_body_bytes %d must be between 1024 and 1073741824", c.MaxBodyBytes)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100_000 {
		bad("rpc.max_batch %d must be between 1 and 100000", c.MaxBatch)
	}
	if c.MaxResponseBytes < 1<<16 {
		bad("rpc.max_response_bytes %d must be at least 65536", c.MaxResponseBytes)
	}
	if c.RateLimit < 0 {
		bad("rpc.rate_limit %g must not be negative (0 turns it off)", c.RateLimit)
	}
	if c.RateLimit > 0 && c.RateBurst < 1 {
		bad("rpc.rate_burst %d must be positive when a rate limit is set", c.RateBurst)
	}
	if c.RequestTimeout < 10*time.Millisecond || c.RequestTimeout > time.Hour {
		bad("rpc.request_timeout %s must be between 10ms and 1h", c.RequestTimeout)
	}
	if c.MaxWSConns < 0 {
		bad("rpc.max_ws_conns %d must not be negative (0 turns WebSocket off)", c.MaxWSConns)
	}
	if c.MaxSubscriptions < 1 {
		bad("rpc.max_subscriptions %d must be positive", c.MaxSubscriptions)
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			bad("rpc.cors_origins: %q is not an origin such as http://localhost:3000 or *", o)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidConfig, errors.Join(errs...))
}
