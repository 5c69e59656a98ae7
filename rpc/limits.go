package rpc

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// client is who a request comes from, as the per-client limits count it.
type client struct {
	// key groups addresses: an IPv4 address, or an IPv6 address's /64
	// (one host is given a whole /64, and could rotate through it).
	key string
	// exempt is true for the addresses of Config.ExemptClients.
	exempt bool
}

// parsePrefix reads an IP address or a CIDR prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// clientOf identifies the client of a request by its remote address.
func (s *Server) clientOf(remote string) client {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return client{key: remote}
	}
	a = a.Unmap().WithZone("")
	c := client{key: a.String()}
	if a.Is6() {
		p, _ := a.Prefix(64)
		c.key = p.String()
	}
	for _, p := range s.exempt {
		if p.Contains(a) {
			c.exempt = true
			break
		}
	}
	return c
}

// hostAllowed reports whether a request may be addressed to host (the
// Host header): an IP address, or a name of Config.AllowedHosts. A page
// that rebinds its own name to this server's address still sends its own
// name, so only names can be foreign; an empty Host (HTTP/1.0) comes from
// no browser.
func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"), ".")
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	for _, h := range s.cfg.AllowedHosts {
		if h == "*" || strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// jsonContent reports whether a POST's Content-Type is JSON. Browsers send
// text/plain, form and multipart bodies from any page without asking
// (no CORS preflight); a JSON type they send only after a preflight that
// the server answers, so a page CORS does not allow cannot get a call run.
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/json-rpc", "application/jsonrequest":
		return true
	}
	return false
}

// originAllowed reports whether a request carrying Origin may be served:
// an origin of Config.CORSOrigins, or the server's own host (a page it
// would have served itself).
func (s *Server) originAllowed(origin, host string) bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	for _, scheme := range []string{"http://", "https://"} {
		if strings.EqualFold(origin, scheme+host) {
			return true
		}
	}
	return false
}

// limiter is a token bucket per client.
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
