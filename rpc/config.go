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
	// The addresses in ExemptClients are not limited.
	RateLimit float64 `toml:"rate_limit" doc:"Calls per second one client address may make (each call of a batch counts); 0 turns the limit off. An IPv6 client's address is its /64."`
	RateBurst int     `toml:"rate_burst" doc:"Calls one client address may make in a burst above rate_limit; at least max_batch."`
	// RequestTimeout bounds one request or batch.
	RequestTimeout time.Duration `toml:"request_timeout" doc:"Longest time for one request or batch."`
	// MaxWSConns bounds open WebSocket connections; MaxSubscriptions bounds
	// the subscriptions of one connection.
	MaxWSConns       int `toml:"max_ws_conns" doc:"Open WebSocket connections at most; 0 turns WebSocket off."`
	MaxSubscriptions int `toml:"max_subscriptions" doc:"Subscriptions on one WebSocket connection at most."`
	// MaxWSConnsPerClient and MaxSubscriptionsPerClient bound what one
	// client address holds (ExemptClients excepted).
	MaxWSConnsPerClient       int `toml:"max_ws_conns_per_client" doc:"Open WebSocket connections one client address may hold."`
	MaxSubscriptionsPerClient int `toml:"max_subscriptions_per_client" doc:"Subscriptions one client address may hold, over all its connections."`
	// ExemptClients are the client addresses (IP addresses or CIDR
	// prefixes) that the per-client limits do not apply to.
	ExemptClients []string `toml:"exempt_clients" doc:"Client addresses or prefixes (\"10.1.2.3\", \"10.0.0.0/8\") that rate_limit, max_ws_conns_per_client and max_subscriptions_per_client do not apply to. The default, loopback, leaves the node's own tools and a local testnet unthrottled; behind a reverse proxy on the same host, empty it and limit at the proxy."`
	// CORSOrigins lists the origins browsers may call from; empty means
	// CORS is off. "*" allows any.
	CORSOrigins []string `toml:"cors_origins" doc:"Origins browsers may call from, such as \"http://localhost:3000\", or \"*\" for any; empty keeps CORS off. A request with any other Origin is refused."`
	// AllowedHosts are the names clients may address the server by, in
	// the Host header (any port); an IP address is always accepted. It
	// keeps DNS-rebinding pages out.
	AllowedHosts []string `toml:"allowed_hosts" doc:"Host names requests may be addressed to (the Host header, any port), against DNS rebinding: add the names a public node is reached by, or \"*\" for any. IP addresses are always accepted."`
}

// DefaultConfig serves 127.0.0.1:8545 with 5 MiB bodies, batches of up to
// 1,000 calls and 25 MiB answers, 1,000 calls per second per client
// address with bursts of 2,000 (loopback exempt), a 10 s timeout per
// request, 1,000 WebSocket connections with up to 100 subscriptions each
// and 32 connections and 128 subscriptions per client address, requests
// addressed to localhost or an IP address, and CORS off.
//
// The rate: one node answers about 30,000–60,000 simple reads a second on
// two cores (BENCHMARKS.md), so 1,000 per address lets a few dozen busy
// clients share it and keeps any one of them to a few percent; a wallet
// or a dapp makes tens of calls a second, and a bot that sends 1,000
// transfers a second from one address is served. The node's own tools,
// the load generator and a local testnet run on loopback, which is exempt.
func DefaultConfig() Config {
	return Config{
		ListenAddr:                "127.0.0.1:8545",
		MaxBodyBytes:              5 << 20,
		MaxBatch:                  1000,
		MaxResponseBytes:          25 << 20,
		RateLimit:                 1000,
		RateBurst:                 2000,
		RequestTimeout:            10 * time.Second,
		MaxWSConns:                1000,
		MaxSubscriptions:          100,
		MaxWSConnsPerClient:       32,
		MaxSubscriptionsPerClient: 128,
		ExemptClients:             []string{"127.0.0.0/8", "::1/128"},
		CORSOrigins:               []string{},
		AllowedHosts:              []string{"localhost"},
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
	if c.RateLimit > 0 && c.RateBurst < max(1, c.MaxBatch) {
		bad("rate_burst", "must be at least max_batch (%d) when a rate limit is set, or a full batch could never pass; not %d", c.MaxBatch, c.RateBurst)
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
	if c.MaxWSConnsPerClient < 1 {
		bad("max_ws_conns_per_client", "must be positive, not %d", c.MaxWSConnsPerClient)
	}
	if c.MaxSubscriptionsPerClient < 1 {
		bad("max_subscriptions_per_client", "must be positive, not %d", c.MaxSubscriptionsPerClient)
	}
	for _, a := range c.ExemptClients {
		if _, err := parsePrefix(a); err != nil {
			bad("exempt_clients", "%q is not an IP address or a prefix such as 10.0.0.0/8", a)
		}
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/: \t") && h != "*" {
			bad("allowed_hosts", "%q is not a host name such as rpc.example.com (no scheme or port), or *", h)
		}
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			bad("cors_origins", "%q is not an origin such as http://localhost:3000 or *", o)
		}
	}
	return errors.Join(errs...)
}
