package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// wsSendQueue bounds the answers waiting for a client: one that sends
	// calls without reading their answers is closed.
	wsSendQueue = 1024
	// wsBacklog bounds the notification results (hashes, heads) waiting
	// for a client's writer: a client that reads slower than the events
	// come is closed once more than this many wait behind the ones its
	// writer has taken (one batch of any size is taken whole). The
	// results are shared by every connection, so the bound costs a
	// connection a few bytes a result.
	wsBacklog      = 1 << 15
	wsWriteTimeout = 10 * time.Second
	wsPingInterval = 30 * time.Second
	wsReadTimeout  = 2*wsPingInterval + 10*time.Second
)

// wsConn is one WebSocket client. A reader goroutine answers calls; a
// writer goroutine sends answers and notifications in order.
type wsConn struct {
	s      *Server
	ws     *websocket.Conn
	client client
	send   chan []byte   // answers
	noted  chan struct{} // notifications wait in backlog
	once   sync.Once
	closed chan struct{}

	mu       sync.Mutex
	subs     map[string]string // subscription id → kind; nil once closed
	inactive []string          // subscriptions whose id the client has not been sent yet
	// active are the ids of the active subscriptions by kind (kindIndex);
	// a slice is replaced, never changed in place, so the backlog can
	// keep the one its event came under.
	active  [2][]string
	backlog []queuedEvent
	waiting int // results in backlog
}

// queuedEvent is an event waiting for the writer, with the subscriptions
// it came for.
type queuedEvent struct {
	kind    int
	ids     []string
	results [][]byte
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin, r.Host) {
		s.metrics.Refused.WithLabelValues("origin").Inc()
		http.Error(w, fmt.Sprintf("origin %q not allowed: add it to rpc.cors_origins", origin), http.StatusForbidden)
		return
	}
	// Reserve a slot and register in one critical section, so that
	// concurrent upgrades cannot pass the caps and Stop sees every
	// connection.
	c := &wsConn{s: s, client: s.clientOf(r.RemoteAddr), send: make(chan []byte, wsSendQueue), noted: make(chan struct{}, 1),
		closed: make(chan struct{}), subs: map[string]string{}}
	s.mu.Lock()
	hold := s.clients[c.client.key]
	switch {
	case s.stopping:
		s.mu.Unlock()
		http.Error(w, "server stopping", http.StatusServiceUnavailable)
		return
	case len(s.wsConns) >= s.cfg.MaxWSConns:
		s.mu.Unlock()
		s.metrics.Refused.WithLabelValues("ws_conns").Inc()
		http.Error(w, fmt.Sprintf("too many WebSocket connections (rpc.max_ws_conns = %d)", s.cfg.MaxWSConns), http.StatusServiceUnavailable)
		return
	case !c.client.exempt && hold != nil && hold.conns >= s.cfg.MaxWSConnsPerClient:
		s.mu.Unlock()
		s.metrics.Refused.WithLabelValues("ws_client_conns").Inc()
		http.Error(w, fmt.Sprintf("too many WebSocket connections from this address (rpc.max_ws_conns_per_client = %d)", s.cfg.MaxWSConnsPerClient), http.StatusTooManyRequests)
		return
	}
	if hold == nil {
		hold = &clientHold{}
		s.clients[c.client.key] = hold
	}
	hold.conns++
	s.wsConns[c] = struct{}{}
	s.mu.Unlock()
	s.metrics.WSConns.Inc()
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true }, // checked above
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		c.close()
		return // the upgrader has answered
	}
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()
	select {
	case <-c.closed: // Stop ran during the upgrade
		_ = ws.Close()
		return
	default:
	}
	ws.SetReadLimit(s.cfg.MaxBodyBytes)
	// A client that neither sends nor answers pings is gone.
	_ = ws.SetReadDeadline(time.Now().Add(wsReadTimeout))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(wsReadTimeout)) })
	go c.writeLoop()
	c.readLoop()
}

func (c *wsConn) readLoop() {
	defer c.close()
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(wsReadTimeout))
		ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RequestTimeout)
		out := c.s.handle(ctx, c.client, c, msg)
		cancel()
		if out != nil && !c.enqueue(out) {
			return
		}
		// Notifications of new subscriptions start only now, after the
		// answer that tells the client their ids.
		c.activate()
	}
}

func (c *wsConn) writeLoop() {
	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.closed:
			return
		case msg := <-c.send:
			if !c.write(msg) {
				return
			}
		case <-c.noted:
			if !c.writeNotifications() {
				return
			}
		case <-ping.C:
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.close()
				return
			}
		}
	}
}

func (c *wsConn) write(msg []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		c.close()
		return false
	}
	return true
}

// writeNotifications writes the backlog: each result of each event to each
// subscription it came for that is still active, one message each (the
// JSON-RPC notifications clients parse). A client that takes no message
// for wsWriteTimeout is gone; one that takes them slower than they come is
// closed by the backlog's bound (notify).
func (c *wsConn) writeNotifications() bool {
	// The answers queued before these notifications go first: the answer
	// that gives a subscription's id precedes its first notification.
	for drained := false; !drained; {
		select {
		case msg := <-c.send:
			if !c.write(msg) {
				return false
			}
		default:
			drained = true
		}
	}
	c.mu.Lock()
	queue, active := c.backlog, c.active
	c.backlog, c.waiting = nil, 0
	c.mu.Unlock()
	var msg []byte
	for _, ev := range queue {
		ids := stillActive(ev.ids, active[ev.kind])
		for _, r := range ev.results {
			for _, id := range ids {
				msg = appendNotification(msg[:0], id, r)
				if !c.write(msg) {
					return false
				}
			}
		}
	}
	return true
}

// stillActive returns the ids of then that are in now: an event queued
// before an unsubscription is not sent after its answer.
func stillActive(then, now []string) []string {
	if len(then) == len(now) && (len(then) == 0 || &then[0] == &now[0]) {
		return then // unchanged
	}
	out := make([]string, 0, len(then))
	for _, id := range then {
		if slices.Contains(now, id) {
			out = append(out, id)
		}
	}
	return out
}

func appendNotification(buf []byte, id string, result []byte) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`...)
	buf = append(buf, id...)
	buf = append(buf, `","result":`...)
	buf = append(buf, result...)
	return append(buf, "}}"...)
}

// enqueue queues an answer; a client too slow to take its queue is closed.
func (c *wsConn) enqueue(msg []byte) bool {
	select {
	case <-c.closed:
		return false
	default:
	}
	select {
	case c.send <- msg:
		return true
	default:
		c.s.log.Warn("closing a WebSocket client that does not read its answers", "client", c.client.key)
		c.s.metrics.WSSlowClosed.Inc()
		c.close()
		return false
	}
}

// notify queues an event for the writer (the feed's goroutine calls it).
// A client whose writer has not taken the backlog before it passes
// wsBacklog is closed.
func (c *wsConn) notify(ev *event) {
	k := kindIndex(ev.kind)
	c.mu.Lock()
	ids := c.active[k]
	if len(ids) == 0 {
		c.mu.Unlock()
		return
	}
	if c.waiting > 0 && c.waiting+len(ev.results) > c.s.wsBacklog {
		waiting := c.waiting
		c.mu.Unlock()
		c.s.log.Warn("closing a WebSocket client that does not keep up with its notifications", "client", c.client.key, "waiting", waiting)
		c.s.metrics.WSSlowClosed.Inc()
		c.close()
		return
	}
	c.backlog = append(c.backlog, queuedEvent{kind: k, ids: ids, results: ev.results})
	c.waiting += len(ev.results)
	c.mu.Unlock()
	select {
	case c.noted <- struct{}{}:
	default:
	}
}

func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		ws := c.ws
		subs := len(c.subs)
		active := c.active
		c.subs, c.inactive, c.active, c.backlog = nil, nil, [2][]string{}, nil
		c.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
		f := c.s.feed
		f.unregister(c)
		for k, ids := range active {
			f.active[k].Add(-int64(len(ids)))
		}
		c.s.mu.Lock()
		delete(c.s.wsConns, c)
		c.s.release(c.client.key, 1, subs)
		c.s.mu.Unlock()
		c.s.metrics.WSConns.Dec()
		c.s.metrics.Subscriptions.Sub(float64(subs))
	})
}

// release gives back what a client held; s.mu is held.
func (s *Server) release(key string, conns, subs int) {
	h := s.clients[key]
	if h == nil {
		return
	}
	h.conns -= conns
	h.subs -= subs
	if h.conns <= 0 && h.subs <= 0 {
		delete(s.clients, key)
	}
}

func newSubscriptionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "0x" + hex.EncodeToString(b[:])
}

// subscribe registers a subscription of conn; it becomes active once the
// answer with its id is queued (activate).
func (s *Server) subscribe(conn *wsConn, kind string) (string, error) {
	if conn == nil {
		return "", &Error{Code: CodeMethodNotFound, Message: "notifications not supported: subscribe over WebSocket"}
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if conn.subs == nil {
		return "", ErrStopped
	}
	if len(conn.subs) >= s.cfg.MaxSubscriptions {
		return "", &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("too many subscriptions on this connection (rpc.max_subscriptions = %d)", s.cfg.MaxSubscriptions)}
	}
	s.mu.Lock()
	h := s.clients[conn.client.key]
	if !conn.client.exempt && h.subs >= s.cfg.MaxSubscriptionsPerClient {
		s.mu.Unlock()
		return "", &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("too many subscriptions from this address (rpc.max_subscriptions_per_client = %d)", s.cfg.MaxSubscriptionsPerClient)}
	}
	h.subs++
	s.mu.Unlock()
	id := newSubscriptionID()
	conn.subs[id] = kind
	conn.inactive = append(conn.inactive, id)
	s.metrics.Subscriptions.Inc()
	return id, nil
}

// activate makes the subscriptions of the last request active, now that
// the answer with their ids is queued, and registers the connection with
// the feed when it has its first.
func (c *wsConn) activate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.inactive) == 0 || c.subs == nil {
		return
	}
	had := len(c.active[0])+len(c.active[1]) > 0
	for _, id := range c.inactive {
		kind, ok := c.subs[id]
		if !ok {
			continue // unsubscribed in the same request
		}
		k := kindIndex(kind)
		c.active[k] = append(slices.Clip(c.active[k]), id)
		c.s.feed.active[k].Add(1)
	}
	c.inactive = nil
	if !had && len(c.active[0])+len(c.active[1]) > 0 {
		c.s.feed.register(c)
	}
}

func (s *Server) unsubscribe(conn *wsConn, id string) bool {
	if conn == nil {
		return false
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	kind, mine := conn.subs[id]
	if !mine {
		return false
	}
	delete(conn.subs, id)
	k := kindIndex(kind)
	if i := slices.Index(conn.active[k], id); i >= 0 {
		conn.active[k] = slices.Delete(slices.Clone(conn.active[k]), i, i+1)
		s.feed.active[k].Add(-1)
		if len(conn.active[0])+len(conn.active[1]) == 0 {
			s.feed.unregister(conn)
		}
	}
	s.mu.Lock()
	s.release(conn.client.key, 0, 1)
	s.mu.Unlock()
	s.metrics.Subscriptions.Dec()
	return true
}

func (s *Server) ethSubscribe(_ context.Context, conn *wsConn, p json.RawMessage) (any, error) {
	var kind string
	var opts json.RawMessage
	if e := decodeParams(p, 1, &kind, &opts); e != nil {
		return nil, e
	}
	switch kind {
	case subHeads, subPending:
	case "logs", "syncing":
		return nil, errInvalidParams("subscription %q not supported: this chain has no logs; poll eth_syncing for its sync state", kind)
	default:
		return nil, errInvalidParams("no %q subscription; have newHeads and newPendingTransactions", kind)
	}
	return s.subscribe(conn, kind)
}

func (s *Server) ethUnsubscribe(_ context.Context, conn *wsConn, p json.RawMessage) (any, error) {
	var id string
	if e := decodeParams(p, 1, &id); e != nil {
		return nil, e
	}
	return s.unsubscribe(conn, id), nil
}
