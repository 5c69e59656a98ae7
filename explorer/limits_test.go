package explorer

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// bareExplorer is an explorer on an empty database whose node is
// unreachable: enough to test what its HTTP server does. hook sees the
// server before it serves.
func bareExplorer(t *testing.T, set func(*Config), hook func(*http.Server)) *Explorer {
	t.Helper()
	pg, _ := testDB(t)
	cfg := testConfig("http://127.0.0.1:1", pg, "", "")
	if set != nil {
		set(&cfg)
	}
	e, err := Open(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(e.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("explorer: %v", err)
		}
	})
	return e
}

// TestSecurityHeaders: no response may be framed by another site
// (clickjacking), sniffed into another type, or leak the page's address.
func TestSecurityHeaders(t *testing.T) {
	e := bareExplorer(t, nil, nil)
	base := "http://" + e.Addr()
	for _, path := range []string{"/", "/app.js", "/api/blocks", "/api/nothing", "/healthz", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			_, h, _ := get(t, base+path)
			csp := h.Get("Content-Security-Policy")
			for name, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q lacks frame-ancestors 'none'", csp)
			}
			if path == "/" && (!strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "base-uri 'none'")) {
				t.Errorf("page Content-Security-Policy %q", csp)
			}
		})
	}
}

// TestServerTimeouts: every phase of a connection has a deadline, and the
// write deadline leaves room for the slowest query the API allows.
func TestServerTimeouts(t *testing.T) {
	e := bareExplorer(t, nil, nil)
	s := e.srv
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("server limits: read header %v, read %v, write %v, idle %v, header bytes %d",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	if s.WriteTimeout != e.cfg.WriteTimeout || s.WriteTimeout <= e.cfg.QueryTimeout {
		t.Fatalf("write timeout %v (config %v), query timeout %v", s.WriteTimeout, e.cfg.WriteTimeout, e.cfg.QueryTimeout)
	}
}

// TestSlowReaderIsCut: a client that sends requests and stops reading
// the answers holds a connection, its goroutine and its buffers only until
// the write timeout; without one it holds them for as long as it likes.
func TestSlowReaderIsCut(t *testing.T) {
	const writeTimeout = time.Second
	closed := make(chan struct{}, 1)
	var hooked sync.Once
	e := bareExplorer(t, func(c *Config) { c.QueryTimeout, c.WriteTimeout = 500*time.Millisecond, writeTimeout },
		func(s *http.Server) {
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateClosed {
					hooked.Do(func() { closed <- struct{}{} })
				}
			}
		})
	conn, err := net.Dial("tcp", e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	// 400 pipelined requests for the 47 KB script: about 19 MB of answers,
	// far more than the socket buffers between the two hold.
	req := strings.Repeat("GET /app.js HTTP/1.1\r\nHost: explorer\r\n\r\n", 400)
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	go conn.Write([]byte(req)) //nolint:errcheck // the server may close first
	start := time.Now()
	select {
	case <-closed:
		t.Logf("the server closed the connection of a client that stopped reading after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(writeTimeout + 10*time.Second):
		t.Fatalf("%v after a client stopped reading, the server still holds its connection", writeTimeout+10*time.Second)
	}
}
