package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bizra/node0/chain"
)

const (
	wsSendQueue    = 1024 // messages waiting for a slow client before it is dropped
	wsWriteTimeout = 10 * time.Second
	wsPingInterval = 30 * time.Second
	wsReadTimeout  = 2*wsPingInterval + 10*time.Second
)

// wsConn is one WebSocket client. A reader goroutine answers calls; a
// writer goroutine sends answers and notifications in order.
type wsConn struct {
	s      *Server
	ws     *websocket.Conn
	client string
	send   chan []byte
	once   sync.Once
	closed chan struct{}

	mu       sync.Mutex
	subs     map[string]string // subscription id → kind
	inactive []string          // subscriptions whose id the client has not been sent yet
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) && !sameHost(origin, r.Host) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	// Reserve a slot and register in one critical section, so that
	// concurrent upgrades cannot pass the cap and Stop sees every
	// connection.
	c := &wsConn{s: s, client: clientKey(r.RemoteAddr), send: make(chan []byte, wsSendQueue), closed: make(chan struct{}), subs: map[string]string{}}
	s.mu.Lock()
	switch {
	case s.stopping:
		s.mu.Unlock()
		http.Error(w, "server stopping", http.StatusServiceUnavailable)
		return
	case len(s.wsConns) >= s.cfg.MaxWSConns:
		s.mu.Unlock()
		http.Error(w, "too many WebSocket connections", http.StatusServiceUnavailable)
		return
	}
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

func sameHost(origin, host string) bool {
	for _, scheme := range []string{"http://", "https://"} {
		if origin == scheme+host {
			return true
		}
	}
	return false
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
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.close()
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

// enqueue queues a message; a client too slow to take its queue is closed.
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
		c.s.log.Warn("closing a WebSocket client that does not keep up", "client", c.client)
		c.close()
		return false
	}
}

func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		ws := c.ws
		c.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
		c.s.mu.Lock()
		delete(c.s.wsConns, c)
		c.s.mu.Unlock()
		c.s.metrics.WSConns.Dec()
		c.mu.Lock()
		ids := make([]string, 0, len(c.subs))
		for id := range c.subs {
			ids = append(ids, id)
		}
		c.subs = nil
		c.mu.Unlock()
		for _, id := range ids {
			c.s.feed.subs.remove(id)
			c.s.metrics.Subscriptions.Dec()
		}
	})
}

// Subscription kinds.
const (
	subHeads   = "newHeads"
	subPending = "newPendingTransactions"
)

// subscriptions is the registry of active subscriptions by kind.
type subscriptions struct {
	mu    sync.RWMutex
	kinds map[string]map[string]*wsConn // kind → id → conn
	all   map[string]string             // id → kind
}

func (r *subscriptions) init() {
	r.kinds = map[string]map[string]*wsConn{subHeads: {}, subPending: {}}
	r.all = map[string]string{}
}

func (r *subscriptions) add(kind, id string, c *wsConn) {
	r.mu.Lock()
	r.kinds[kind][id] = c
	r.all[id] = kind
	r.mu.Unlock()
}

func (r *subscriptions) remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	kind, ok := r.all[id]
	if !ok {
		return false
	}
	delete(r.all, id)
	delete(r.kinds[kind], id)
	return true
}

func (r *subscriptions) count(kind string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.kinds[kind])
}

// notify sends a notification to every subscriber of kind; result is the
// encoded payload.
func (r *subscriptions) notify(kind string, result []byte) {
	r.mu.RLock()
	targets := make(map[string]*wsConn, len(r.kinds[kind]))
	for id, c := range r.kinds[kind] {
		targets[id] = c
	}
	r.mu.RUnlock()
	for id, c := range targets {
		msg := make([]byte, 0, len(result)+96)
		msg = append(msg, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`...)
		msg = append(msg, id...)
		msg = append(msg, `","result":`...)
		msg = append(msg, result...)
		msg = append(msg, "}}"...)
		c.enqueue(msg)
	}
}

func newSubscriptionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "0x" + hex.EncodeToString(b[:])
}

// subscribe registers a subscription of conn.
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
		return "", &Error{Code: CodeLimitExceeded, Message: "too many subscriptions on this connection"}
	}
	id := newSubscriptionID()
	conn.subs[id] = kind
	conn.inactive = append(conn.inactive, id)
	s.metrics.Subscriptions.Inc()
	return id, nil
}

// activate registers the subscriptions made by the last request, whose
// answer has been queued.
func (c *wsConn) activate() {
	c.mu.Lock()
	ids := c.inactive
	c.inactive = nil
	kinds := make([]string, len(ids))
	for i, id := range ids {
		kinds[i] = c.subs[id]
	}
	c.mu.Unlock()
	for i, id := range ids {
		if kinds[i] != "" { // not unsubscribed in the same request
			c.s.feed.subs.add(kinds[i], id, c)
		}
	}
}

func (s *Server) unsubscribe(conn *wsConn, id string) bool {
	if conn == nil {
		return false
	}
	conn.mu.Lock()
	_, mine := conn.subs[id]
	delete(conn.subs, id)
	conn.mu.Unlock()
	if !mine {
		return false
	}
	s.feed.subs.remove(id) // false if it was not active yet
	s.metrics.Subscriptions.Dec()
	return true
}

// Feed carries the node's events to WebSocket subscribers: committed
// blocks (newHeads) and admitted transactions (newPendingTransactions). It
// stands apart from the Server so that what produces the events — the
// pool, the chain's commits — can be handed its methods when they are
// built, before the server that reads the pool; the server registers its
// connections' subscriptions with it (Options.Feed).
type Feed struct {
	chain Chain
	log   *slog.Logger
	subs  subscriptions
}

// NewFeed makes a feed of a chain's events; log may be nil.
func NewFeed(c Chain, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{chain: c, log: log.With("module", "rpc")}
	f.subs.init()
	return f
}

// NotifyBlock tells newHeads subscribers about a committed block.
func (f *Feed) NotifyBlock(b *chain.Block) {
	if f.subs.count(subHeads) == 0 {
		return
	}
	payload, err := json.Marshal(newHeader(b, f.chain.Rules(), gasLimit(f.chain)))
	if err != nil {
		f.log.Error("encoding a head", "err", err)
		return
	}
	f.subs.notify(subHeads, payload)
}

// NotifyTx tells newPendingTransactions subscribers about an admitted
// transaction.
func (f *Feed) NotifyTx(tx *chain.Tx) {
	if f.subs.count(subPending) == 0 {
		return
	}
	payload, _ := json.Marshal(tx.Hash)
	f.subs.notify(subPending, payload)
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
