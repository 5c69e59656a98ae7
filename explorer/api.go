package explorer

import (
	"context"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed web
var webFiles embed.FS

// api serves the HTTP JSON API, the web page and /metrics.
type api struct {
	store   *Store
	cache   *Cache
	ix      *Indexer
	m       *Metrics
	log     *slog.Logger
	timeout time.Duration
}

// Cache-Control of the outer tiers (browsers, proxies): final things long,
// moving things briefly.
const (
	ccFinal   = "public, max-age=3600, immutable"
	ccMoving  = "public, max-age=1"
	ccSlow    = "public, max-age=5"
	ccBoard   = "public, max-age=60"
	ccNoStore = "no-store"
)

// errBadRequest marks an error of the request's input.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return errBadRequest{fmt.Sprintf(format, args...)} }

func (a *api) handler(reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		name := strings.TrimPrefix(pattern, "GET ")
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
			defer cancel()
			code := http.StatusOK
			if err := h(w, r.WithContext(ctx)); err != nil {
				code = a.fail(w, r, err)
			}
			a.m.HTTPRequests.WithLabelValues(name, strconv.Itoa(code)).Inc()
			a.m.HTTPSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
		})
	}
	route("GET /api/stats", a.stats)
	route("GET /api/blocks", a.blocks)
	route("GET /api/blocks/{id}", a.block)
	route("GET /api/txs", a.txs)
	route("GET /api/tx/{hash}", a.tx)
	route("GET /api/address/{addr}", a.address)
	route("GET /api/validators", a.validators)
	route("GET /api/validators/{id}", a.validator)
	route("GET /api/leaderboard", a.leaderboard)
	route("GET /healthz", a.health)
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	files := http.FileServerFS(sub)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", cspPage)
		files.ServeHTTP(w, r)
	})
	return securityHeaders(mux)
}

// Content-Security-Policy of the web page (its script, style and API
// calls come from the explorer itself) and of everything else (JSON and
// metrics, which no browser should render or run anything for). Neither
// may be framed by another site.
const (
	cspPage = "default-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	cspData = "default-src 'none'; frame-ancestors 'none'"
)

// securityHeaders sets on every answer what keeps a browser from framing
// it (X-Frame-Options for browsers without CSP frame-ancestors), sniffing
// it into another type, or sending the page's address to other sites.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", cspData)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", ccNoStore)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg}) //nolint:errcheck // the client may be gone
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) int {
	var bad errBadRequest
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
		return http.StatusNotFound
	default:
		a.log.Warn("API request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the index is unavailable; try again")
		return http.StatusServiceUnavailable
	}
}

func writeBody(w http.ResponseWriter, cc string, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cc)
	w.Write(body) //nolint:errcheck // a client that went away needs no answer
	return nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Input parsing: every value reaches SQL as a parameter, never as text.

func limitParam(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}

func hexParam(s string, size int, what string) ([]byte, error) {
	if len(s) != 2+2*size || !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, badRequest("%s must be 0x and %d hex digits", what, 2*size)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, badRequest("%s must be 0x and %d hex digits", what, 2*size)
	}
	return b, nil
}

func heightParam(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("a block height is a whole number from 0")
	}
	return n, nil
}

// parseCursor reads an address page cursor, HEIGHT-INDEX.
func parseCursor(s string) (int64, int, error) {
	h, i, ok := strings.Cut(s, "-")
	hv, err1 := strconv.ParseInt(h, 10, 64)
	iv, err2 := strconv.ParseInt(i, 10, 32)
	if !ok || err1 != nil || err2 != nil || hv < 0 || iv < 0 {
		return 0, 0, badRequest("before must be a cursor HEIGHT-INDEX as given in next")
	}
	return hv, int(iv), nil
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) error {
	body, err := a.cache.Get(WithStrongRead(r.Context()), keyStats, "", ttlLatest, func(ctx context.Context) ([]byte, error) {
		st, err := a.store.Stats(ctx, 120)
		if err != nil {
			return nil, err
		}
		st.NodeHeight = a.ix.NodeHeight()
		st.Behind = max(0, st.NodeHeight-st.Height)
		return marshal(st)
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccMoving, body)
}

func (a *api) blocks(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 20, 100)
	if err != nil {
		return err
	}
	before := int64(-1)
	if s := r.URL.Query().Get("before"); s != "" {
		if before, err = heightParam(s); err != nil {
			return badRequest("before must be a block height")
		}
	}
	load := func(ctx context.Context) ([]byte, error) {
		bs, err := a.store.LatestBlocks(ctx, limit, before)
		if err != nil {
			return nil, err
		}
		var next *uint64
		if len(bs) == limit && bs[len(bs)-1].Height > 0 {
			n := bs[len(bs)-1].Height
			next = &n
		}
		return marshal(struct {
			Blocks []BlockJSON `json:"blocks"`
			Next   *uint64     `json:"next"`
		}{bs, next})
	}
	var body []byte
	if before < 0 {
		body, err = a.cache.Get(WithStrongRead(r.Context()), keyLatestBlocks, strconv.Itoa(limit), ttlLatest, load)
	} else {
		body, err = load(r.Context())
	}
	if err != nil {
		return err
	}
	if before >= 0 {
		return writeBody(w, ccSlow, body)
	}
	return writeBody(w, ccMoving, body)
}

func (a *api) block(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var height int64 = -1
	var hash []byte
	var err error
	if strings.HasPrefix(id, "0x") || strings.HasPrefix(id, "0X") {
		if hash, err = hexParam(id, 32, "a block hash"); err != nil {
			return err
		}
		id = strings.ToLower(id)
	} else if height, err = heightParam(id); err != nil {
		return err
	} else {
		id = strconv.FormatInt(height, 10) // one cache key however the number is written
	}
	body, err := a.cache.Get(r.Context(), "block:"+id, "", ttlFinal, func(ctx context.Context) ([]byte, error) {
		b, err := a.store.Block(ctx, height, hash)
		if err != nil {
			return nil, err
		}
		return marshal(b)
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccFinal, body)
}

func (a *api) txs(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 20, 100)
	if err != nil {
		return err
	}
	body, err := a.cache.Get(WithStrongRead(r.Context()), keyLatestTxs, strconv.Itoa(limit), ttlLatest, func(ctx context.Context) ([]byte, error) {
		ts, err := a.store.LatestTxs(ctx, limit)
		if err != nil {
			return nil, err
		}
		return marshal(struct {
			Transactions []TxJSON `json:"transactions"`
		}{ts})
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccMoving, body)
}

func (a *api) tx(w http.ResponseWriter, r *http.Request) error {
	hash, err := hexParam(r.PathValue("hash"), 32, "a transaction hash")
	if err != nil {
		return err
	}
	body, err := a.cache.Get(r.Context(), "tx:"+hexOf(hash), "", ttlFinal, func(ctx context.Context) ([]byte, error) {
		t, err := a.store.Tx(ctx, hash)
		if err != nil {
			return nil, err
		}
		return marshal(t)
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccFinal, body)
}

func (a *api) address(w http.ResponseWriter, r *http.Request) error {
	addr, err := hexParam(r.PathValue("addr"), 20, "an address")
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	height, index := int64(-1), 0
	if s := r.URL.Query().Get("before"); s != "" {
		if height, index, err = parseCursor(s); err != nil {
			return err
		}
	}
	load := func(ctx context.Context) ([]byte, error) {
		out, err := a.store.Address(ctx, addr, limit, height, index)
		if err != nil {
			return nil, err
		}
		return marshal(out)
	}
	var body []byte
	if height < 0 {
		// The first page of a busy address is asked for again and again;
		// keep it in memory as long as HTTP caches may keep it (one second).
		body, err = a.cache.Recent(r.Context(), "addr:"+hexOf(addr)+":"+strconv.Itoa(limit), ttlAddress, load)
	} else {
		body, err = load(r.Context())
	}
	if err != nil {
		return err
	}
	return writeBody(w, ccMoving, body)
}

func (a *api) validators(w http.ResponseWriter, r *http.Request) error {
	body, err := a.cache.Get(WithStrongRead(r.Context()), keyActiveValidators, "", ttlActiveValidators, func(ctx context.Context) ([]byte, error) {
		return a.activeValidatorsJSON(ctx)
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccSlow, body)
}

func (a *api) activeValidatorsJSON(ctx context.Context) ([]byte, error) {
	vs, err := a.store.ActiveValidators(ctx)
	if err != nil {
		return nil, err
	}
	return marshal(struct {
		Validators []ValidatorJSON `json:"validators"`
	}{vs})
}

func (a *api) validator(w http.ResponseWriter, r *http.Request) error {
	raw, err := hexParam(r.PathValue("id"), 20, "a validator id (its address)")
	if err != nil {
		return err
	}
	id := hexOf(raw)
	body, err := a.cache.Get(WithStrongRead(r.Context()), keyValidator(id), "", ttlValidator, func(ctx context.Context) ([]byte, error) {
		v, err := a.store.Validator(ctx, id)
		if err != nil {
			return nil, err
		}
		return marshal(v)
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccSlow, body)
}

// leaderboardRows is how many rows the Redis sorted set keeps.
const leaderboardRows = 1000

func (a *api) leaderboard(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, leaderboardRows)
	if err != nil {
		return err
	}
	ctx := r.Context()
	lk := keyLeaderboard + ":" + strconv.Itoa(limit)
	if body, ok := a.cache.memory(lk); ok {
		return writeBody(w, ccBoard, body)
	}
	body, err := a.cache.coalesce(ctx, lk, func(ctx context.Context, gen uint64) ([]byte, error) {
		rows, refreshed, ok := a.cache.leaderboardGet(ctx, limit)
		if !ok {
			b, err := a.fillLeaderboard(ctx, gen)
			if err != nil {
				return nil, err
			}
			rows, refreshed = b.rows[:min(limit, len(b.rows))], b.refreshed
		}
		body := []byte(`{"leaderboard":[` + strings.Join(rows, ",") + `],"refreshedAt":` + refreshed + "}\n")
		a.cache.local.put(lk, body, gen)
		return body, nil
	})
	if err != nil {
		return err
	}
	return writeBody(w, ccBoard, body)
}

// boardRows is the leaderboard as fillLeaderboard reads it.
type boardRows struct {
	rows      []string
	refreshed string
}

// fillLeaderboard is fillLeaderboard for the API's misses: concurrent
// ones, whatever page size they ask for, share one read.
func (a *api) fillLeaderboard(ctx context.Context, gen uint64) (boardRows, error) {
	return a.cache.fills.do(ctx, keyLeaderboard, gen, func(ctx context.Context) (boardRows, error) {
		rows, refreshed, err := fillLeaderboard(ctx, a.store, a.cache)
		return boardRows{rows, refreshed}, err
	})
}

// fillLeaderboard reads the first leaderboardRows rows of the materialized
// view from the primary (a replica may not have the newest refresh) and
// puts them in Redis as the sorted set; it returns them as JSON with the
// refresh time ("null" before the first).
func fillLeaderboard(ctx context.Context, s *Store, c *Cache) ([]string, string, error) {
	all, at, err := s.Leaderboard(WithStrongRead(ctx), leaderboardRows)
	if err != nil {
		return nil, "", err
	}
	rows := make([]string, len(all))
	for i, l := range all {
		b, err := json.Marshal(l)
		if err != nil {
			return nil, "", err
		}
		rows[i] = string(b)
	}
	refreshed := "null"
	if at != nil {
		refreshed = strconv.FormatInt(*at, 10)
	}
	c.leaderboardSet(ctx, rows, refreshed)
	return rows, refreshed, nil
}

func (a *api) health(w http.ResponseWriter, r *http.Request) error {
	if err := a.store.db.Primary().Ping(r.Context()); err != nil {
		return err
	}
	body, err := marshal(map[string]int64{"indexedHeight": a.ix.IndexedHeight(), "nodeHeight": a.ix.NodeHeight()})
	if err != nil {
		return err
	}
	return writeBody(w, ccNoStore, body)
}
