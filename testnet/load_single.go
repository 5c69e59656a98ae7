package testnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// The one-per-request path: every request is one plain JSON-RPC request
// object carrying one transfer. Connection w owns the accounts a with
// a mod conns == w and sends to endpoint w mod len(endpoints). An account
// has at most one transfer in flight and sends its next transfer only once
// the previous one was accepted, so that a refusal never leaves a nonce
// gap: a refused or unanswered transfer is sent again (the same bytes) at
// the account's next turn, after the retry_after_ms a refusal asks for; an
// unanswered one goes to the next endpoint. Requests take slots of one
// schedule shared by all connections, Rate a second.

// minRetryGap is the least wait before retrying a refused transfer
// without a rate (with one, the next slot paces it) and without a
// retry_after_ms.
const minRetryGap = 10 * time.Millisecond

// sendAccount is one sending account's cursor, owned by one connection.
type sendAccount struct {
	txs  []*loadTx // in nonce order
	next int       // the transfer to send
	home int       // the endpoint it sends to
	// shift moves the current transfer to a later endpoint after transport
	// errors; unanswered is set once one of its attempts got no answer,
	// lostMs the time that attempt was sent.
	shift      int
	unanswered bool
	lostMs     int64
	firstTry   time.Time // the current transfer's first attempt
	notBefore  time.Time // a refusal's retry_after
	stopped    bool
}

func (a *sendAccount) active() bool { return !a.stopped && a.next < len(a.txs) }

// advance moves to the account's next transfer.
func (a *sendAccount) advance() {
	a.next++
	a.shift, a.unanswered, a.lostMs = 0, false, 0
	a.firstTry, a.notBefore = time.Time{}, time.Time{}
}

// singleSender is the one-per-request path's shared state.
type singleSender struct {
	r         *loadRun
	http      *http.Client
	urls      []*url.URL
	downUntil []atomic.Int64 // unix ns until which an endpoint is passed over
	start     time.Time
	deadline  time.Time // zero: none
	slots     atomic.Int64
	interval  float64 // seconds between slots; 0: no pacing
	follow    *follower

	mu sync.Mutex // guards the report's maps while sending
}

// newLoadTransport returns one transport for all connections: keep-alive,
// no compression, conns connections per host.
func newLoadTransport(conns, hosts int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * hosts,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// sendSingle runs the one-per-request connections and waits for them.
func (r *loadRun) sendSingle(ctx context.Context, start time.Time, follow *follower) {
	n := len(r.keys)
	conns := min(r.cfg.Conns, n)
	s := &singleSender{
		r:         r,
		http:      &http.Client{Transport: newLoadTransport(conns, len(r.cfg.Endpoints)), Timeout: r.cfg.requestTimeout()},
		downUntil: make([]atomic.Int64, len(r.cfg.Endpoints)),
		start:     start,
		follow:    follow,
	}
	defer s.http.CloseIdleConnections()
	for _, e := range r.cfg.Endpoints {
		u, err := url.Parse(e)
		if err != nil { // Validate let it through; it cannot be sent to
			u = &url.URL{Scheme: "http", Host: "invalid."}
		}
		s.urls = append(s.urls, u)
	}
	if r.cfg.Duration > 0 {
		s.deadline = start.Add(r.cfg.Duration)
	}
	if r.cfg.Rate > 0 {
		s.interval = 1 / r.cfg.Rate
	}
	accounts := make([]*sendAccount, n)
	for a := range accounts {
		accounts[a] = &sendAccount{home: (a % conns) % len(r.cfg.Endpoints)}
	}
	for i, t := range r.txs {
		a := accounts[i%n]
		a.txs = append(a.txs, t)
	}
	var wg sync.WaitGroup
	for w := range conns {
		var mine []*sendAccount
		for a := w; a < n; a += conns {
			mine = append(mine, accounts[a])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&singleConn{s: s, accounts: mine}).run(ctx)
		}()
	}
	wg.Wait()
	for _, a := range accounts {
		if a.stopped {
			r.rep.Stopped++
		}
	}
}

// singleConn is one connection's sender, with its buffers.
type singleConn struct {
	s        *singleSender
	accounts []*sendAccount
	rr       int // where the next search for a ready account starts
	id       uint64
	body     []byte
	reader   bytes.Reader
	answer   bytes.Buffer
	header   http.Header
}

// run sends until every account is done, the duration ends, or ctx ends.
func (c *singleConn) run(ctx context.Context) {
	c.header = http.Header{"Content-Type": {"application/json"}}
	for ctx.Err() == nil {
		a, wait := c.pick()
		if a == nil && wait.IsZero() {
			return // every account done
		}
		if a == nil {
			if !c.s.beforeDeadline(wait) || !sleepUntil(ctx, wait) {
				return
			}
			continue
		}
		due, ok := c.s.slot()
		if !ok || !sleepUntil(ctx, due) {
			return
		}
		c.attempt(ctx, a)
	}
}

// pick returns the next account ready to send, round robin; or, if none is
// ready, nil and the earliest time one will be; nil and zero when no
// account has anything left to send.
func (c *singleConn) pick() (*sendAccount, time.Time) {
	var now, earliest time.Time
	for k := range c.accounts {
		i := (c.rr + k) % len(c.accounts)
		a := c.accounts[i]
		if !a.active() {
			continue
		}
		if !a.notBefore.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if a.notBefore.After(now) {
				if earliest.IsZero() || a.notBefore.Before(earliest) {
					earliest = a.notBefore
				}
				continue
			}
		}
		c.rr = i + 1
		return a, time.Time{}
	}
	return nil, earliest
}

// slot takes the next slot of the shared schedule and returns when it is
// due; false if it, or the present, is past the duration (the nodes may
// answer slower than the schedule: sending still ends on time).
func (s *singleSender) slot() (time.Time, bool) {
	if !s.beforeDeadline(time.Now()) {
		return time.Time{}, false
	}
	if s.interval <= 0 {
		return time.Time{}, true
	}
	k := s.slots.Add(1) - 1
	due := s.start.Add(time.Duration(float64(k) * s.interval * float64(time.Second)))
	return due, s.beforeDeadline(due)
}

func (s *singleSender) beforeDeadline(t time.Time) bool {
	return s.deadline.IsZero() || t.Before(s.deadline)
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// endpoint is where account a sends its current transfer: its home moved
// on by its shift, passing over endpoints that recently failed unless all
// did.
func (s *singleSender) endpoint(a *sendAccount) int {
	n := len(s.urls)
	first := (a.home + a.shift) % n
	now := time.Now().UnixNano()
	for k := range n {
		e := (first + k) % n
		if s.downUntil[e].Load() <= now {
			return e
		}
	}
	return first
}

// attempt sends account a's current transfer once and acts on the answer.
func (c *singleConn) attempt(ctx context.Context, a *sendAccount) {
	s, r := c.s, c.s.r
	t := a.txs[a.next]
	if a.firstTry.IsZero() {
		a.firstTry = time.Now()
		r.offered.Add(1)
	} else {
		r.retries.Add(1)
	}
	e := s.endpoint(a)
	c.id++
	c.body = appendSendRaw(c.body[:0], c.id, t.raw)
	t.sentMs = time.Now().UnixMilli()
	r.sent.Add(1)
	status, retryAfter, err := c.post(ctx, s.urls[e])
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled by the caller, not a node's failure: no answer,
			// nothing more to send.
			r.transport.Add(1)
			s.countTransport("cancelled")
			a.stopped = true
			return
		}
		r.transport.Add(1)
		s.countTransport(transportKind(err))
		s.downUntil[e].Store(time.Now().Add(time.Second).UnixNano())
		c.body = nil // the transport may still hold the old buffer
		c.reader = bytes.Reader{}
		if !a.unanswered {
			a.unanswered, a.lostMs = true, t.sentMs
		}
		a.shift++
		return
	}
	ans := parseSendAnswer(c.answer.Bytes())
	switch {
	case ans.ok:
		c.accept(a, t, true)
		return
	case !ans.isError:
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			ans = sendAnswer{isError: true, code: status, message: "HTTP " + strconv.Itoa(status), retryAfterMs: retryAfter}
			break
		}
		r.transport.Add(1)
		s.countTransport("HTTP " + strconv.Itoa(status))
		s.downUntil[e].Store(time.Now().Add(time.Second).UnixNano())
		if !a.unanswered {
			a.unanswered, a.lostMs = true, t.sentMs
		}
		a.shift++
		return
	}
	msg := strings.ToLower(ans.message)
	if a.unanswered && strings.Contains(msg, "already known") {
		// An earlier attempt got no answer, yet reached a pool.
		t.sentMs = a.lostMs
		c.accept(a, t, false)
		return
	}
	s.countRejected(ans.key())
	t.mark(flagAnswered)
	switch {
	case ans.retryable():
		r.refused.Add(1)
		switch {
		case ans.retryAfterMs > 0:
			a.notBefore = time.Now().Add(time.Duration(ans.retryAfterMs) * time.Millisecond)
		case s.interval == 0: // unpaced: do not spin on a node that refuses
			a.notBefore = time.Now().Add(minRetryGap)
		}
		if s.deadline.IsZero() && time.Since(a.firstTry) > r.cfg.Settle {
			a.stopped = true // refused for longer than the settle time
		}
	case strings.Contains(msg, "already known"), a.unanswered && strings.Contains(msg, "nonce too low"):
		// The transfer is in a pool, or an unanswered attempt committed:
		// the next nonce is free to go.
		a.advance()
	default:
		a.stopped = true
	}
}

// accept records t as accepted and moves a to its next transfer.
func (c *singleConn) accept(a *sendAccount, t *loadTx, hashReturned bool) {
	f := flagAnswered | flagAccepted
	if hashReturned {
		f |= flagHashed
	}
	c.s.r.accepted.Add(1)
	if t.mark(f) {
		c.s.follow.committed.Add(1)
	}
	a.advance()
}

// post sends c.body to u and reads the answer into c.answer. A response
// with any status is an answer; err is set only when none came.
func (c *singleConn) post(ctx context.Context, u *url.URL) (status int, retryAfterMs int64, err error) {
	c.reader.Reset(c.body)
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Host:          u.Host,
		Header:        c.header,
		Body:          io.NopCloser(&c.reader),
		ContentLength: int64(len(c.body)),
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}).WithContext(ctx)
	resp, err := c.s.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	c.answer.Reset()
	_, err = c.answer.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, 0, err
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if sec, perr := strconv.ParseFloat(v, 64); perr == nil && sec >= 0 && sec < 3600 {
			retryAfterMs = int64(sec * 1000)
		}
	}
	return resp.StatusCode, retryAfterMs, nil
}

func (s *singleSender) countRejected(key string) {
	s.mu.Lock()
	s.r.rep.Rejected[key]++
	s.mu.Unlock()
}

func (s *singleSender) countTransport(kind string) {
	s.mu.Lock()
	s.r.rep.Transport[kind]++
	s.mu.Unlock()
}

// transportKind names a failed request's cause for the report.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other"
}

// appendSendRaw appends the eth_sendRawTransaction request object for raw
// with the given id.
func appendSendRaw(b []byte, id uint64, raw []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"method":"eth_sendRawTransaction","params":["0x`...)
	n := len(b)
	b = append(b, make([]byte, hex.EncodedLen(len(raw)))...)
	hex.Encode(b[n:], raw)
	return append(b, `"]}`...)
}

// sendAnswer is what an answer to eth_sendRawTransaction said.
type sendAnswer struct {
	ok      bool // a result: the transaction hash
	hash    chain.Hash
	isError bool // an error object
	code    int
	message string
	// From the error's data: an object's "reason" and "retry_after_ms",
	// or a string as the reason.
	reason       string
	retryAfterMs int64
}

// key names a rejection in the report: the code, the message up to its
// first colon (the detail after it names the transaction), and the data's
// reason.
func (a sendAnswer) key() string {
	msg := a.message
	if i := strings.Index(msg, ":"); i > 0 {
		msg = msg[:i]
	}
	k := strconv.Itoa(a.code) + " " + msg
	if a.reason != "" {
		k += " [" + a.reason + "]"
	}
	return k
}

// retryable reports whether the refusal is about room, not the transfer:
// the node's limits (-32005, HTTP 429/503), a full pool or a full
// allowance of the sender.
func (a sendAnswer) retryable() bool {
	if a.code == rpc.CodeLimitExceeded || a.code == http.StatusTooManyRequests || a.code == http.StatusServiceUnavailable {
		return true
	}
	msg := strings.ToLower(a.message)
	return strings.Contains(msg, "txpool is full") || strings.Contains(msg, "account limit exceeded")
}

// hashPrefix starts a successful answer's result.
var hashPrefix = []byte(`"result":"0x`)

// parseSendAnswer decodes an answer to one eth_sendRawTransaction request.
// The common answer, a hash, is found without a JSON decoder; anything
// else is decoded in full. An answer that is neither a result nor an
// error has both ok and isError false.
func parseSendAnswer(b []byte) sendAnswer {
	if i := bytes.Index(b, hashPrefix); i >= 0 && !bytes.Contains(b, []byte(`"error"`)) {
		h := b[i+len(hashPrefix):]
		var a sendAnswer
		if len(h) > 2*len(a.hash) && h[2*len(a.hash)] == '"' {
			if _, err := hex.Decode(a.hash[:], h[:2*len(a.hash)]); err == nil {
				a.ok = true
				return a
			}
		}
	}
	var resp struct {
		Result *chain.Hash `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return sendAnswer{}
	}
	if resp.Error != nil {
		a := sendAnswer{isError: true, code: resp.Error.Code, message: resp.Error.Message}
		var data struct {
			Reason       string  `json:"reason"`
			RetryAfterMs float64 `json:"retry_after_ms"`
		}
		var str string
		switch {
		case json.Unmarshal(resp.Error.Data, &data) == nil:
			a.reason = data.Reason
			if data.RetryAfterMs > 0 && data.RetryAfterMs < 3_600_000 {
				a.retryAfterMs = int64(data.RetryAfterMs)
			}
		case json.Unmarshal(resp.Error.Data, &str) == nil:
			a.reason = str
		}
		return a
	}
	if resp.Result != nil {
		return sendAnswer{ok: true, hash: *resp.Result}
	}
	return sendAnswer{}
}
