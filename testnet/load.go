package testnet

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// LoadConfig describes a transfer load.
type LoadConfig struct {
	// Endpoints are the JSON-RPC URLs to send to: connection (or, batched,
	// sender) w sends to endpoint w mod len(Endpoints). The first that
	// answers is also asked about the chain and pays the accounts; the
	// first is followed for commits (the next one when it stops
	// answering).
	Endpoints []string
	// Accounts is the number of sending accounts.
	Accounts int
	// Txs is the number of transfers; 0 means Rate × Duration.
	Txs int
	// Rate is the offered requests per second over all connections (one
	// transfer attempt each; with Batch > 1, transfers per second); 0 sends
	// as fast as the nodes answer.
	Rate float64
	// Duration is the sending time. Warmup, at most Duration, is the part of
	// it left out of the measured window (LoadReport.Window).
	Duration time.Duration
	Warmup   time.Duration
	// Batch is the transfers per JSON-RPC request. With 1 every request is
	// a plain request object, as wallets send; more sends JSON-RPC batches.
	// Conns is the number of concurrent keep-alive connections (batched:
	// senders).
	Batch int
	Conns int
	// Funders pay the sending accounts what they need, if they lack it.
	Funders []*ecdsa.PrivateKey
	// Seed names the sending accounts: account i has the key
	// keccak256(Seed || uint32 i), so runs reuse the same funded accounts.
	Seed string
	// Settle bounds the wait for commits after the last transfer is sent.
	// With Batch 1 and no Duration, it also bounds how long one transfer is
	// retried after refusals before its account stops sending.
	Settle time.Duration
	// RequestTimeout bounds one request (0: 10 s); a request that runs out
	// counts as a transport error.
	RequestTimeout time.Duration
	// Metrics are the nodes' Prometheus text endpoints (…/metrics), read at
	// the start and the end of the measured window for the nodes' CPU time
	// (process_cpu_seconds_total). Empty: no node CPU figures.
	Metrics []string
	// Record makes the report carry AcceptedTxs.
	Record bool
	// Progress, if set, receives a progress line every second.
	Progress io.Writer
}

// DefaultLoadConfig returns 1,000 accounts, one transfer per request over
// 16 connections, and 30 s to settle.
func DefaultLoadConfig() LoadConfig {
	return LoadConfig{Accounts: 1000, Batch: 1, Conns: 16, Seed: "bizra/load", Settle: 30 * time.Second}
}

// MaxLoadConns bounds LoadConfig.Conns.
const MaxLoadConns = 4096

// Validate reports every problem at once.
func (c LoadConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Endpoints) == 0 {
		bad("at least one endpoint is required")
	}
	for _, e := range c.Endpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			bad("endpoint %q must be an http:// or https:// URL", e)
		}
	}
	for _, e := range c.Metrics {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			bad("metrics endpoint %q must be an http:// or https:// URL", e)
		}
	}
	if c.Accounts < 1 || c.Accounts > 1_000_000 {
		bad("accounts %d must be between 1 and 1000000", c.Accounts)
	}
	if c.Txs < 0 || c.Txs > 100_000_000 {
		bad("txs %d must be between 0 and 100000000", c.Txs)
	}
	if c.Txs == 0 && (c.Rate <= 0 || c.Duration <= 0) {
		bad("give a number of transfers, or a rate and a duration")
	}
	if c.Rate < 0 {
		bad("rate %g must not be negative", c.Rate)
	}
	if c.Duration < 0 {
		bad("duration %s must not be negative", c.Duration)
	}
	if c.Warmup < 0 || (c.Duration > 0 && c.Warmup >= c.Duration) {
		bad("warmup %s must be at least 0 and shorter than the duration", c.Warmup)
	}
	if c.Batch < 1 || c.Batch > 10_000 {
		bad("batch %d must be between 1 and 10000", c.Batch)
	}
	if c.Conns < 1 || c.Conns > MaxLoadConns {
		bad("conns %d must be between 1 and %d", c.Conns, MaxLoadConns)
	}
	if c.Settle <= 0 {
		bad("settle %s must be positive", c.Settle)
	}
	if c.RequestTimeout < 0 {
		bad("request timeout %s must not be negative", c.RequestTimeout)
	}
	return errors.Join(errs...)
}

// requestTimeout is RequestTimeout, 0 meaning 10 s.
func (c LoadConfig) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 10 * time.Second
}

// total returns the number of transfers to send.
func (c LoadConfig) total() int {
	if c.Txs > 0 {
		return c.Txs
	}
	return int(c.Rate * c.Duration.Seconds())
}

// Latency summarises inclusion or call latencies, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func latencyOf(ms []float64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	sort.Float64s(ms)
	at := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	return Latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms[len(ms)-1]}
}

// LoadReport is what a transfer load measured.
type LoadReport struct {
	// Sent counts requests' transfer attempts: with Batch 1, a refused or
	// unanswered transfer is sent again, and each attempt counts. Transfers
	// counts the distinct transfers sent at least once; Retries the
	// attempts after a transfer's first.
	Sent      int `json:"sent"`
	Transfers int `json:"transfers_offered"`
	Retries   int `json:"retries"`
	// Accepted counts the transfers a node admitted: it returned the hash,
	// or answered "already known" to a retry of a transfer whose earlier
	// attempt got no answer.
	Accepted int `json:"accepted"`
	// Rejected counts the error answers by "code message" (the message up
	// to its first colon) and, when the error's data names one,
	// "[reason]". Refused counts those that were retried: code -32005
	// (the node's limits, "txpool is full"), or a full pool or sender
	// allowance by message. Stopped counts the accounts that stopped
	// sending: after an answer that retrying cannot change, or (without a
	// duration) refusals for longer than the settle time.
	Rejected map[string]int `json:"rejected"`
	Refused  int            `json:"refused"`
	Stopped  int            `json:"stopped_accounts"`
	// TransportErrors counts attempts that got no answer (the node may or
	// may not have admitted them); Transport sorts them by kind.
	TransportErrors int            `json:"transport_errors"`
	Transport       map[string]int `json:"transport,omitempty"`
	// Committed counts accepted transfers seen in a block; Lost the
	// accepted ones not seen before the settle time ran out. Unconfirmed
	// counts transfers seen in a block whose submission was answered with
	// an error or not at all.
	Committed   int `json:"committed"`
	Lost        int `json:"lost"`
	Unconfirmed int `json:"committed_without_acceptance"`
	// SendSeconds is the sending window; OfferedTPS the attempts sent per
	// second in it. CommittedTPS is the committed transfers per second from
	// the start of sending until the tool saw the block with the last of
	// them.
	SendSeconds  float64 `json:"send_seconds"`
	OfferedTPS   float64 `json:"offered_tps"`
	CommittedTPS float64 `json:"committed_tps"`
	// Inclusion is the time from sending a transfer's accepted attempt
	// until the tool saw the block that committed it, both on the tool's
	// clock (the tool polls the first endpoint's head every 10 ms; a block is
	// seen when the head first reports it).
	Inclusion       Latency `json:"inclusion"`
	Blocks          int     `json:"blocks"`
	FirstBlock      uint64  `json:"first_block"`
	LastBlock       uint64  `json:"last_block"`
	BlockIntervalMs float64 `json:"avg_block_interval_ms"`
	TxsPerBlock     float64 `json:"avg_txs_per_block"`
	SignSeconds     float64 `json:"sign_seconds"`
	// Window is what the measured window (sending after the warm-up) saw.
	Window LoadWindow `json:"window"`
	// Interrupted is set when the context ended before the run finished;
	// the figures are those of the run so far.
	Interrupted bool `json:"interrupted,omitempty"`
	// AcceptedTxs, with LoadConfig.Record, are the hashes of the transfers
	// for which a node returned the hash, in the order they were signed.
	AcceptedTxs []chain.Hash `json:"-"`
}

// loadKey returns sending account i of a seed.
func loadKey(seed string, i int) *ecdsa.PrivateKey {
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], uint32(i))
	for n := 0; ; n++ {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed), idx[:], []byte{byte(n)}))
		if err == nil {
			return k
		}
	}
}

// chainParams are what signing needs from the node.
type chainParams struct {
	chainID *big.Int
	tip     *big.Int
	feeCap  *big.Int
	height  uint64
}

func fetchParams(ctx context.Context, c *rpc.Client) (chainParams, error) {
	var id, tip, price hexutil.Big
	batch := []rpc.BatchElem{
		{Method: "eth_chainId", Result: &id},
		{Method: "eth_maxPriorityFeePerGas", Result: &tip},
		{Method: "eth_gasPrice", Result: &price},
	}
	if err := c.BatchCall(ctx, batch); err != nil {
		return chainParams{}, err
	}
	for _, b := range batch {
		if b.Err != nil {
			return chainParams{}, fmt.Errorf("%s: %w", b.Method, b.Err)
		}
	}
	// A fee cap of twice the current price leaves room for the base fee to
	// rise while the load runs.
	return chainParams{chainID: id.ToInt(), tip: tip.ToInt(), feeCap: new(big.Int).Mul(price.ToInt(), big.NewInt(2))}, nil
}

// loadTx is one pre-signed transfer.
type loadTx struct {
	raw     hexutil.Bytes
	hash    chain.Hash
	account int // the sending account's index
	// sentMs is the unix ms when its accepted attempt (or, until one was,
	// its latest) was sent; the sender writes it, tally reads it after.
	sentMs int64
	seenMs atomic.Int64
	// flags: what the sender learned (answered, accepted) and what the
	// follower saw (committed), set from either side in any order.
	flags atomic.Int32
}

const (
	flagAnswered  int32 = 1 << iota // the node answered for it
	flagAccepted                    // and admitted it
	flagCommitted                   // a block holds it
	flagHashed                      // the node answered with its hash
)

// mark sets flags and reports whether this call completed "accepted and
// committed".
func (t *loadTx) mark(f int32) bool {
	old := t.flags.Or(f)
	both := flagAccepted | flagCommitted
	return old&both != both && (old|f)&both == both
}

// RunLoad funds the sending accounts if needed, signs the transfers, sends
// them, follows the chain until they are committed or the settle time runs
// out, and reports. If ctx ends once sending began, RunLoad stops sending
// and waiting, and returns the report as far as the run got (Interrupted
// set) together with ctx's error.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	r, err := setupLoad(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := r.sign(); err != nil {
		return nil, err
	}
	follow, stopFollow := r.follow(ctx)
	defer stopFollow()

	start := time.Now()
	progressDone := make(chan struct{})
	if cfg.Progress != nil {
		go progress(cfg.Progress, progressDone, len(r.txs), &r.sent, &r.accepted, follow)
	}
	sendDone := make(chan struct{})
	marks := make(chan [2]windowMark, 1)
	go r.measureWindow(ctx, start, sendDone, marks)
	if cfg.Batch == 1 {
		r.sendSingle(ctx, start, follow)
	} else {
		r.send(ctx, start, follow)
	}
	r.rep.SendSeconds = time.Since(start).Seconds()
	close(sendDone)
	window := <-marks
	r.settle(ctx, follow)
	stopFollow()
	close(progressDone)
	r.tally(start, follow)
	r.fillWindow(window, follow, start)
	if err := ctx.Err(); err != nil {
		r.rep.Interrupted = true
		return r.rep, fmt.Errorf("load: interrupted: %w", err)
	}
	return r.rep, nil
}

// loadRun is one transfer load on its way through RunLoad's steps: setup,
// signing, sending, settling and tallying.
type loadRun struct {
	cfg     LoadConfig
	clients []*rpc.Client // one per endpoint; the first is asked and followed
	params  chainParams
	keys    []*ecdsa.PrivateKey // the sending accounts
	nonces  []uint64            // their next nonces when setup ran
	txs     []*loadTx           // transfer i is from account i mod len(keys)
	byHash  map[chain.Hash]*loadTx
	rep     *LoadReport

	// metricsHTTP reads the nodes' metrics endpoints.
	metricsHTTP *http.Client

	sent, offered, retries, accepted, refused, transport atomic.Int64
	rejMu                                                sync.Mutex // guards rep.Rejected while sending
}

// setupLoad validates cfg, asks the first endpoint about the chain, derives
// the sending accounts, funds those that lack what their transfers cost, and
// reads their nonces.
func setupLoad(ctx context.Context, cfg LoadConfig) (*loadRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &loadRun{cfg: cfg, clients: make([]*rpc.Client, len(cfg.Endpoints)), metricsHTTP: &http.Client{Timeout: 5 * time.Second}}
	for i, e := range cfg.Endpoints {
		r.clients[i] = rpc.NewClient(e, cfg.Conns+2)
	}
	// The first endpoint that answers is asked about the chain, pays the
	// accounts and tells their nonces.
	var err error
	main := -1
	for i, c := range r.clients {
		if r.params, err = fetchParams(ctx, c); err == nil {
			main = i
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	if main < 0 {
		return nil, fmt.Errorf("load: asking %s about the chain: %w", strings.Join(cfg.Endpoints, ", "), err)
	}
	total := cfg.total()
	n := min(cfg.Accounts, total)
	r.keys = make([]*ecdsa.PrivateKey, n)
	parallel(n, func(i int) { r.keys[i] = loadKey(cfg.Seed, i) })
	// Each account pays 1 wei and the gas at the fee cap per transfer.
	perAccount := (total + n - 1) / n
	need := new(big.Int).Mul(big.NewInt(int64(perAccount)), new(big.Int).Add(big.NewInt(1), new(big.Int).Mul(big.NewInt(chain.TransferGas), r.params.feeCap)))
	if err := fund(ctx, r.clients[main], r.params, r.keys, need, cfg.Funders, cfg.Progress); err != nil {
		return nil, err
	}
	if r.nonces, err = Nonces(ctx, r.clients[main], addressesOf(r.keys), "pending"); err != nil {
		return nil, err
	}
	// Follow from the height after the top-ups, which are not the load's.
	var height hexutil.Uint64
	if err := r.clients[main].Call(ctx, &height, "eth_blockNumber"); err != nil {
		return nil, err
	}
	r.params.height = uint64(height)
	r.rep = &LoadReport{Rejected: map[string]int{}, Transport: map[string]int{}}
	return r, nil
}

// sign signs every transfer before the clock starts: transfer i is the
// (i / n)-th of account i mod n, 1 wei to the next account. The report
// gets the time signing took.
func (r *loadRun) sign() error {
	start := time.Now()
	total, n, p := r.cfg.total(), len(r.keys), r.params
	r.txs = make([]*loadTx, total)
	signer := types.NewLondonSigner(p.chainID)
	var signErr atomic.Value
	parallel(total, func(i int) {
		a := i % n
		to := crypto.PubkeyToAddress(r.keys[(a+1)%n].PublicKey)
		tx := types.NewTx(&types.DynamicFeeTx{
			ChainID: p.chainID, Nonce: r.nonces[a] + uint64(i/n), GasTipCap: p.tip, GasFeeCap: p.feeCap,
			Gas: chain.TransferGas, To: &to, Value: big.NewInt(1),
		})
		signed, err := types.SignTx(tx, signer, r.keys[a])
		if err != nil {
			signErr.Store(err)
			return
		}
		raw, _ := signed.MarshalBinary()
		r.txs[i] = &loadTx{raw: raw, hash: signed.Hash(), account: a}
	})
	if err, _ := signErr.Load().(error); err != nil {
		return fmt.Errorf("load: signing: %w", err)
	}
	r.rep.SignSeconds = time.Since(start).Seconds()
	r.byHash = make(map[chain.Hash]*loadTx, total)
	for _, t := range r.txs {
		r.byHash[t.hash] = t
	}
	return nil
}

// follow starts following the chain from its height when setup ran. stop
// ends the follower and waits for it; it may be called more than once.
func (r *loadRun) follow(ctx context.Context) (f *follower, stop func()) {
	f = newFollower(r.clients, r.params.height, r.byHash)
	followCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.run(followCtx) }()
	return f, func() { cancel(); <-done }
}

// send runs the batched senders and waits for them to finish: sender w
// owns the accounts a with a mod conns == w, and sends their transfers in
// nonce order, batch by batch, over endpoint w mod len(endpoints); a
// transfer is sent again only when refused for want of room (sendBatch).
func (r *loadRun) send(ctx context.Context, start time.Time, follow *follower) {
	n := len(r.keys)
	conns := min(r.cfg.Conns, n)
	perSender := r.cfg.Rate / float64(conns)
	var stoppedN atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		var mine []*loadTx
		for i := range r.txs {
			if (i%n)%conns == w {
				mine = append(mine, r.txs[i])
			}
		}
		client := r.clients[w%len(r.clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An account whose refused transfer could not be sent again
			// in time sends nothing more: its later transfers would wait
			// behind the gap for good.
			stopped := map[int]bool{}
			for lo := 0; lo < len(mine); lo += r.cfg.Batch {
				if !waitSlot(ctx, start, lo, perSender) {
					return
				}
				// Refused transfers are sent again for up to the settle
				// time, past the sending time if need be: given up, the
				// transfers of their accounts already admitted behind them
				// would never commit.
				until := time.Now().Add(r.cfg.Settle)
				batch := mine[lo:min(lo+r.cfg.Batch, len(mine))]
				if len(stopped) > 0 {
					batch = slices.DeleteFunc(slices.Clone(batch), func(t *loadTx) bool { return stopped[t.account] })
				}
				for _, t := range r.sendBatch(ctx, client, batch, follow, until) {
					if !stopped[t.account] {
						stopped[t.account] = true
						stoppedN.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	r.rep.Stopped += int(stoppedN.Load())
}

// waitSlot holds a sender's batch that starts at its transfer lo until it
// is due at perSender transfers a second from start (0: no limit). It
// reports false if ctx ended first.
func waitSlot(ctx context.Context, start time.Time, lo int, perSender float64) bool {
	if perSender <= 0 {
		return true
	}
	due := start.Add(time.Duration(float64(lo) / perSender * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// sendBatch sends txs as one JSON-RPC batch and records each answer.
// Transfers refused for want of room ("txpool is full", a node's
// backpressure) are sent again, in nonce order, in a batch of their own
// once the next block is due (retry_after_ms), so that their accounts'
// later transfers do not wait behind a gap, until the time given.
//
// It returns the transfers still refused when it gave up.
func (r *loadRun) sendBatch(ctx context.Context, c *rpc.Client, txs []*loadTx, follow *follower, until time.Time) (refused []*loadTx) {
	first := true
	for len(txs) > 0 {
		again, wait := r.sendBatchOnce(ctx, c, txs, follow, first)
		first = false
		if len(again) == 0 || !time.Now().Add(wait).Before(until) || !sleepUntil(ctx, time.Now().Add(wait)) {
			return again
		}
		r.retries.Add(int64(len(again)))
		txs = again
	}
	return nil
}

// sendBatchOnce sends one batch and returns the transfers refused for want
// of room, with the longest wait their refusals asked for.
func (r *loadRun) sendBatchOnce(ctx context.Context, c *rpc.Client, txs []*loadTx, follow *follower, first bool) (again []*loadTx, wait time.Duration) {
	batch := make([]rpc.BatchElem, len(txs))
	for i, t := range txs {
		batch[i] = rpc.BatchElem{Method: "eth_sendRawTransaction", Params: []any{t.raw}}
	}
	now := time.Now().UnixMilli()
	for _, t := range txs {
		t.sentMs = now
	}
	r.sent.Add(int64(len(txs)))
	if first {
		r.offered.Add(int64(len(txs)))
	}
	err := c.BatchCall(ctx, batch)
	if err != nil {
		var rerr *rpc.Error
		if errors.As(err, &rerr) { // the batch refused whole
			r.rejMu.Lock()
			r.rep.Rejected[reason(err)] += len(txs)
			r.rejMu.Unlock()
			return nil, 0
		}
		r.transport.Add(int64(len(txs))) // no answer: admitted or not, unknown
		kind := transportKind(err)
		if ctx.Err() != nil {
			kind = "cancelled"
		}
		r.rejMu.Lock()
		r.rep.Transport[kind] += len(txs)
		r.rejMu.Unlock()
		return nil, 0
	}
	wait = 10 * time.Millisecond
	for i, b := range batch {
		t := txs[i]
		if b.Err == nil {
			r.accepted.Add(1)
			if t.mark(flagAnswered | flagAccepted | flagHashed) {
				follow.committed.Add(1)
			}
			continue
		}
		var e *rpc.Error
		if errors.As(b.Err, &e) {
			a := sendAnswer{code: e.Code, message: e.Message}
			if a.retryable() {
				r.refused.Add(1)
				if d, ok := e.Data.(map[string]any); ok {
					if ms, ok := d["retry_after_ms"].(float64); ok {
						wait = max(wait, time.Duration(ms)*time.Millisecond)
					}
				}
				again = append(again, t)
			}
		}
		t.mark(flagAnswered)
		r.rejMu.Lock()
		r.rep.Rejected[reason(b.Err)]++
		r.rejMu.Unlock()
	}
	return again, min(wait, 2*time.Second)
}

// settle waits until the follower has seen every accepted transfer
// committed, the settle time runs out, or ctx ends.
func (r *loadRun) settle(ctx context.Context, follow *follower) {
	deadline := time.Now().Add(r.cfg.Settle)
	for follow.committed.Load() < r.accepted.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
}

// tally sorts the transfers into committed, lost and unconfirmed, and
// fills in the rates, the inclusion latencies and the block figures. The
// follower must have stopped.
func (r *loadRun) tally(start time.Time, follow *follower) {
	rep := r.rep
	rep.Sent, rep.Transfers, rep.Retries = int(r.sent.Load()), int(r.offered.Load()), int(r.retries.Load())
	rep.Accepted, rep.Refused, rep.TransportErrors = int(r.accepted.Load()), int(r.refused.Load()), int(r.transport.Load())
	if rep.SendSeconds > 0 {
		rep.OfferedTPS = float64(rep.Sent) / rep.SendSeconds
	}
	var lat []float64
	for _, t := range r.txs {
		f := t.flags.Load()
		if r.cfg.Record && f&flagHashed != 0 {
			rep.AcceptedTxs = append(rep.AcceptedTxs, t.hash)
		}
		switch {
		case f&flagCommitted == 0:
			if f&flagAccepted != 0 {
				rep.Lost++
			}
		case f&flagAccepted != 0:
			rep.Committed++
			lat = append(lat, float64(t.seenMs.Load()-t.sentMs))
		default:
			rep.Unconfirmed++
		}
	}
	rep.Inclusion = latencyOf(lat)
	follow.summarise(rep, start)
}

// reason names a rejection as the report does: code, message before its
// detail, and the data's reason.
func reason(err error) string {
	var e *rpc.Error
	if errors.As(err, &e) {
		a := sendAnswer{code: e.Code, message: e.Message}
		switch d := e.Data.(type) {
		case string:
			a.reason = d
		case map[string]any:
			a.reason, _ = d["reason"].(string)
		}
		return a.key()
	}
	return "transport: " + err.Error()
}

// follower polls the chain for new blocks and marks the transfers they
// commit, with the time it saw each block.
type follower struct {
	clients []*rpc.Client // asked in turn, moving on when one fails
	at      int
	next    uint64
	byHash  map[chain.Hash]*loadTx
	// committed counts transfers both accepted and seen committed.
	committed atomic.Int64

	mu     sync.Mutex
	blocks []blockSeen
}

type blockSeen struct {
	number uint64
	tsMs   int64 // the block's own timestamp
	seenMs int64 // when the follower saw it
	ours   int
	txs    int // all its transactions
}

func newFollower(clients []*rpc.Client, head uint64, byHash map[chain.Hash]*loadTx) *follower {
	return &follower{clients: clients, next: head + 1, byHash: byHash}
}

// failed moves the follower to the next endpoint and pauses.
func (f *follower) failed(ctx context.Context) {
	f.at = (f.at + 1) % len(f.clients)
	sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
}

func (f *follower) run(ctx context.Context) {
	for ctx.Err() == nil {
		var head hexutil.Uint64
		if err := f.clients[f.at].Call(ctx, &head, "eth_blockNumber"); err != nil {
			f.failed(ctx)
			continue
		}
		// A block is seen when the node first reports it as its head, not
		// when its transaction list has come back too: on a node busy with
		// load that second call waits its turn as long as the first.
		seen := time.Now().UnixMilli()
		for f.next <= uint64(head) && ctx.Err() == nil {
			var b struct {
				Number       hexutil.Uint64 `json:"number"`
				TimestampMs  hexutil.Uint64 `json:"timestampMs"`
				Timestamp    hexutil.Uint64 `json:"timestamp"`
				Transactions []chain.Hash   `json:"transactions"`
			}
			if err := f.clients[f.at].Call(ctx, &b, "eth_getBlockByNumber", hexutil.Uint64(f.next), false); err != nil {
				f.failed(ctx)
				break
			}
			ts := int64(b.TimestampMs)
			if ts == 0 {
				ts = int64(b.Timestamp) * 1000 // a node without millisecond timestamps
			}
			ours := 0
			for _, h := range b.Transactions {
				t, ok := f.byHash[h]
				if !ok || t.flags.Load()&flagCommitted != 0 {
					continue
				}
				t.seenMs.Store(seen)
				if t.mark(flagCommitted) {
					f.committed.Add(1)
				}
				ours++
			}
			f.mu.Lock()
			f.blocks = append(f.blocks, blockSeen{number: uint64(b.Number), tsMs: ts, seenMs: seen, ours: ours, txs: len(b.Transactions)})
			f.mu.Unlock()
			f.next++
		}
		sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
	}
}

// summarise fills in the block figures: the blocks from the first to the
// last that committed any of ours.
func (f *follower) summarise(rep *LoadReport, start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	first, last := -1, -1
	for i, b := range f.blocks {
		if b.ours > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return
	}
	span := f.blocks[first : last+1]
	rep.Blocks = len(span)
	rep.FirstBlock, rep.LastBlock = span[0].number, span[len(span)-1].number
	if len(span) > 1 {
		rep.BlockIntervalMs = float64(span[len(span)-1].tsMs-span[0].tsMs) / float64(len(span)-1)
	}
	rep.TxsPerBlock = float64(rep.Committed+rep.Unconfirmed) / float64(len(span))
	if window := float64(span[len(span)-1].seenMs-start.UnixMilli()) / 1000; window > 0 {
		rep.CommittedTPS = float64(rep.Committed) / window
	}
}

func progress(w io.Writer, done <-chan struct{}, total int, sent, accepted *atomic.Int64, f *follower) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-done:
			fmt.Fprintln(w)
			return
		case <-tick.C:
			c := f.committed.Load()
			s := sent.Load()
			bar := min(max(int(float64(s)/float64(total)*30), 0), 30) // retries count as sent too
			fmt.Fprintf(w, "\r[%s%s] sent %d/%d  accepted %d  committed %d  %d tx/s committed   ",
				strings.Repeat("#", bar), strings.Repeat(".", 30-bar), s, total, accepted.Load(), c, c-last)
			last = c
		}
	}
}

// Nonces returns each address's transaction count at a block tag
// ("latest" for the committed nonce, "pending" counting the pool), in
// batches of 500.
func Nonces(ctx context.Context, c *rpc.Client, addrs []chain.Address, tag string) ([]uint64, error) {
	out := make([]uint64, len(addrs))
	const chunk = 500
	for lo := 0; lo < len(addrs); lo += chunk {
		hi := min(lo+chunk, len(addrs))
		res := make([]hexutil.Uint64, hi-lo)
		batch := make([]rpc.BatchElem, hi-lo)
		for i := range batch {
			batch[i] = rpc.BatchElem{Method: "eth_getTransactionCount", Params: []any{addrs[lo+i], tag}, Result: &res[i]}
		}
		if err := c.BatchCall(ctx, batch); err != nil {
			return nil, err
		}
		for i, b := range batch {
			if b.Err != nil {
				return nil, fmt.Errorf("load: nonce of %s: %w", addrs[lo+i], b.Err)
			}
			out[lo+i] = uint64(res[i])
		}
	}
	return out, nil
}

// balances returns each account's balance.
func balances(ctx context.Context, c *rpc.Client, addrs []chain.Address) ([]*big.Int, error) {
	out := make([]*big.Int, len(addrs))
	const chunk = 500
	for lo := 0; lo < len(addrs); lo += chunk {
		hi := min(lo+chunk, len(addrs))
		res := make([]hexutil.Big, hi-lo)
		batch := make([]rpc.BatchElem, hi-lo)
		for i := range batch {
			batch[i] = rpc.BatchElem{Method: "eth_getBalance", Params: []any{addrs[lo+i], "latest"}, Result: &res[i]}
		}
		if err := c.BatchCall(ctx, batch); err != nil {
			return nil, err
		}
		for i, b := range batch {
			if b.Err != nil {
				return nil, fmt.Errorf("load: balance of %s: %w", addrs[lo+i], b.Err)
			}
			out[lo+i] = res[i].ToInt()
		}
	}
	return out, nil
}

// fund tops up every account below need to twice need, from the funders in
// turn, in rounds that stay within a sender's pending limit, and waits for
// the top-ups to commit.
func fund(ctx context.Context, c *rpc.Client, p chainParams, keys []*ecdsa.PrivateKey, need *big.Int, funders []*ecdsa.PrivateKey, progressOut io.Writer) error {
	poor, err := poorAccounts(ctx, c, addressesOf(keys), need)
	if err != nil || len(poor) == 0 {
		return err
	}
	if len(funders) == 0 {
		return fmt.Errorf("load: %d sending accounts need funds and no funder key was given", len(poor))
	}
	if progressOut != nil {
		fmt.Fprintf(progressOut, "funding %d sending accounts from %d funders\n", len(poor), len(funders))
	}
	amount := new(big.Int).Mul(need, big.NewInt(2))
	const round = 500 // per funder, below the pool's per-sender pending limit
	for len(poor) > 0 {
		var batches [][]rpc.BatchElem
		var last []chain.Address
		for _, f := range funders {
			if len(poor) == 0 {
				break
			}
			take := min(round, len(poor))
			batch, err := fundingBatch(ctx, c, p, f, poor[:take], amount)
			if err != nil {
				return err
			}
			batches = append(batches, batch)
			last = append(last, poor[take-1])
			poor = poor[take:]
		}
		for _, batch := range batches { // one batch per funder, within the server's batch limit
			if err := sendFunding(ctx, c, batch); err != nil {
				return err
			}
		}
		if err := waitFunded(ctx, c, last, need); err != nil {
			return err
		}
	}
	return nil
}

// sendFunding sends one funder's batch; transfers refused for want of room
// (sendAnswer.retryable: "txpool is full", a node's backpressure) are sent again, in nonce order,
// once the next block is due, for at most 60 s. Any other refusal fails.
func sendFunding(ctx context.Context, c *rpc.Client, batch []rpc.BatchElem) error {
	deadline := time.Now().Add(60 * time.Second)
	for len(batch) > 0 {
		if err := c.BatchCall(ctx, batch); err != nil {
			return err
		}
		var again []rpc.BatchElem
		for _, b := range batch {
			var e *rpc.Error
			switch {
			case b.Err == nil:
			case errors.As(b.Err, &e) && (sendAnswer{code: e.Code, message: e.Message}).retryable():
				again = append(again, rpc.BatchElem{Method: b.Method, Params: b.Params})
			case errors.As(b.Err, &e) && e.Message == "already known":
			default:
				return fmt.Errorf("load: funding transfer refused: %w", b.Err)
			}
		}
		if len(again) > 0 && time.Now().After(deadline) {
			return fmt.Errorf("load: %d funding transfers still refused (txpool is full) after 60 s", len(again))
		}
		if len(again) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		batch = again
	}
	return nil
}

// addressesOf returns the addresses of keys.
func addressesOf(keys []*ecdsa.PrivateKey) []chain.Address {
	addrs := make([]chain.Address, len(keys))
	for i, k := range keys {
		addrs[i] = crypto.PubkeyToAddress(k.PublicKey)
	}
	return addrs
}

// poorAccounts returns the addresses whose balance is below need.
func poorAccounts(ctx context.Context, c *rpc.Client, addrs []chain.Address, need *big.Int) ([]chain.Address, error) {
	bals, err := balances(ctx, c, addrs)
	if err != nil {
		return nil, err
	}
	var poor []chain.Address
	for i, b := range bals {
		if b.Cmp(need) < 0 {
			poor = append(poor, addrs[i])
		}
	}
	return poor, nil
}

// fundingBatch signs transfers of amount from funder f to each of to, from
// f's pending nonce on.
func fundingBatch(ctx context.Context, c *rpc.Client, p chainParams, f *ecdsa.PrivateKey, to []chain.Address, amount *big.Int) ([]rpc.BatchElem, error) {
	var nonce hexutil.Uint64
	if err := c.Call(ctx, &nonce, "eth_getTransactionCount", crypto.PubkeyToAddress(f.PublicKey), "pending"); err != nil {
		return nil, err
	}
	signer := types.NewLondonSigner(p.chainID)
	batch := make([]rpc.BatchElem, 0, len(to))
	for i, a := range to {
		tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: p.chainID, Nonce: uint64(nonce) + uint64(i), GasTipCap: p.tip, GasFeeCap: p.feeCap, Gas: chain.TransferGas, To: &a, Value: amount}), signer, f)
		if err != nil {
			return nil, err
		}
		raw, _ := tx.MarshalBinary()
		batch = append(batch, rpc.BatchElem{Method: "eth_sendRawTransaction", Params: []any{hexutil.Bytes(raw)}})
	}
	return batch, nil
}

// waitFunded waits until every address in last holds at least need, for at
// most 60 s.
func waitFunded(ctx context.Context, c *rpc.Client, last []chain.Address, need *big.Int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		poor, err := poorAccounts(ctx, c, last, need)
		if err != nil {
			return err
		}
		if len(poor) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("load: funding transfers did not commit within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parallel runs fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	const chunk = 64
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}
