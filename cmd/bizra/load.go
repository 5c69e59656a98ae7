package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/node"
	"github.com/bizra/node0/testnet"
)

// keysFlag collects repeated --funder-key values.
type keysFlag []*ecdsa.PrivateKey

func (k *keysFlag) String() string { return fmt.Sprintf("%d keys", len(*k)) }

func (k *keysFlag) Set(s string) error {
	key, err := crypto.HexToECDSA(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return fmt.Errorf("not a secp256k1 private key: %v", err)
	}
	*k = append(*k, key)
	return nil
}

func runLoad(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", stderr, `load [--rpc URL[,URL…] | --testnet DIR] [--rate REQ/S --duration D [--warmup W] | --txs N] [flags]
       bizra load --read METHOD [--params JSON] --rate CALLS/S --duration D [flags]

Sends signed 1-wei transfers from many funded accounts and follows the chain
until they commit. With --batch 1 (the default) every request is one plain
JSON-RPC request object, as wallets send, over --conns keep-alive
connections spread round robin over the endpoints; an account sends its next
transfer only after its previous one was accepted, and a refused (code
-32005, "txpool is full", …) or unanswered transfer is sent again at the
account's next turn (after the retry_after_ms a refusal names; an unanswered
one to the next endpoint). --batch N sends JSON-RPC batches of N instead.

The report counts requests sent and transfers offered, acceptances,
refusals by code, message and reason, transport errors by kind, commits and
losses, and for the window after --warmup: committed tx/s, the block
interval (average, p95, max), inclusion p50/p95/p99/max, transfers per
block, the client's CPU (cores, µs per request) and, from --metrics or
--testnet, the nodes' CPU (cores, µs per committed transaction per node).`)
	d := testnet.DefaultLoadConfig()
	endpoints := fs.String("rpc", "", "JSON-RPC endpoints, comma separated; connection w sends to endpoint w mod their number (default: --testnet's nodes, or http://"+node.DefaultConfig().RPC.ListenAddr+")")
	testnetDir := fs.String("testnet", "", "a directory written by bizra testnet init: send to its nodes' JSON-RPC and read their metrics")
	metrics := fs.String("metrics", "", "the nodes' Prometheus endpoints (http://host:port/metrics), comma separated, read for their CPU time (default: --testnet's)")
	accounts := fs.Int("accounts", d.Accounts, "sending accounts (funded from the funder keys when short)")
	txs := fs.Int("txs", 0, "transfers to send (default: rate × duration)")
	rate := fs.Float64("rate", 0, "requests (or, with --read, calls) per second over all connections, each one transfer attempt (batched: transfers per second); 0 = as fast as answered")
	duration := fs.Duration("duration", 0, "how long to send")
	warmup := fs.Duration("warmup", 0, "leave the first part of sending out of the measured window")
	batch := fs.Int("batch", d.Batch, "transfers per request: 1 sends plain request objects, more sends JSON-RPC batches")
	conns := fs.Int("conns", d.Conns, fmt.Sprintf("concurrent keep-alive connections, at most %d (batched: senders; with --read: callers)", testnet.MaxLoadConns))
	seed := fs.String("seed", d.Seed, "names the sending accounts, so that runs reuse funded ones")
	settle := fs.Duration("settle", d.Settle, "how long to wait for commits after sending")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on one request; one that runs out counts as a transport error")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	read := fs.String("read", "", "measure this read method instead of sending transfers, e.g. eth_blockNumber")
	params := fs.String("params", "[]", "with --read: the JSON array of parameters")
	var funders keysFlag
	fs.Var(&funders, "funder-key", "0x private key that funds the sending accounts (repeatable; default: the devnet's dev accounts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	rpcURLs, metricsURLs := splitList(*endpoints), splitList(*metrics)
	if *testnetDir != "" {
		nodes, err := testnet.LoadLocal(*testnetDir)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if *endpoints == "" {
				rpcURLs = append(rpcURLs, n.RPC)
			}
			if *metrics == "" {
				metricsURLs = append(metricsURLs, n.Metrics)
			}
		}
	}
	if len(rpcURLs) == 0 {
		rpcURLs = []string{"http://" + node.DefaultConfig().RPC.ListenAddr}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress io.Writer = stderr
	if *quiet || *asJSON {
		progress = nil
	}

	if *read != "" {
		var ps []any
		if err := json.Unmarshal([]byte(*params), &ps); err != nil {
			return fmt.Errorf("%w: --params must be a JSON array: %v", errUsage, err)
		}
		rc := testnet.ReadConfig{Endpoint: rpcURLs[0], Method: *read, Params: ps, Rate: *rate, Duration: *duration, Conns: *conns}
		if err := rc.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		rep, err := testnet.RunReads(ctx, rc)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(rep)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "method\t%s\n", rep.Method)
		fmt.Fprintf(tw, "calls\t%d in %.1f s (%d errors)\n", rep.Calls, rep.Seconds, rep.Errors)
		fmt.Fprintf(tw, "calls/s\t%.0f (target %.0f)\n", rep.PerSec, rep.Target)
		fmt.Fprintf(tw, "latency p50 / p95 / p99 / max\t%.2f / %.2f / %.2f / %.2f ms\n", rep.Latency.P50, rep.Latency.P95, rep.Latency.P99, rep.Latency.Max)
		fmt.Fprintf(tw, "started late (>1 ms)\t%d\n", rep.Behind)
		if rep.FirstErr != "" {
			fmt.Fprintf(tw, "first error\t%s\n", rep.FirstErr)
		}
		return tw.Flush()
	}

	cfg := testnet.LoadConfig{
		Endpoints: rpcURLs, Metrics: metricsURLs, Accounts: *accounts, Txs: *txs, Rate: *rate, Duration: *duration, Warmup: *warmup,
		Batch: *batch, Conns: *conns, Seed: *seed, Settle: *settle, RequestTimeout: *timeout, Progress: progress, Funders: funders,
	}
	if len(cfg.Funders) == 0 {
		for _, a := range node.DevAccounts(10) {
			cfg.Funders = append(cfg.Funders, a.Key)
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rep, err := testnet.RunLoad(ctx, cfg)
	if rep == nil {
		return err
	}
	if *asJSON {
		if jerr := json.NewEncoder(stdout).Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		printLoadReport(stdout, rep)
	}
	if err != nil {
		return err // interrupted: the report is of the run so far
	}
	if rep.Lost > 0 {
		return fmt.Errorf("%d accepted transfers were not committed within %s", rep.Lost, *settle)
	}
	return nil
}

func printLoadReport(w io.Writer, rep *testnet.LoadReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "signed\tin %.1f s before the clock started\n", rep.SignSeconds)
	fmt.Fprintf(tw, "sent\t%d requests in %.1f s (%.0f/s offered): %d transfers, %d retries\n", rep.Sent, rep.SendSeconds, rep.OfferedTPS, rep.Transfers, rep.Retries)
	fmt.Fprintf(tw, "accepted\t%d\n", rep.Accepted)
	reasons := make([]string, 0, len(rep.Rejected))
	for r := range rep.Rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	if len(reasons) == 0 {
		fmt.Fprintf(tw, "rejected\t0\n")
	}
	for _, r := range reasons {
		fmt.Fprintf(tw, "rejected: %s\t%d\n", r, rep.Rejected[r])
	}
	if rep.Refused > 0 || rep.Stopped > 0 {
		fmt.Fprintf(tw, "refusals retried\t%d (accounts stopped: %d)\n", rep.Refused, rep.Stopped)
	}
	kinds := make([]string, 0, len(rep.Transport))
	for k := range rep.Transport {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		fmt.Fprintf(tw, "transport errors\t%d\n", rep.TransportErrors)
	}
	for _, k := range kinds {
		fmt.Fprintf(tw, "transport error: %s\t%d\n", k, rep.Transport[k])
	}
	fmt.Fprintf(tw, "committed\t%d (%.0f tx/s), lost %d\n", rep.Committed, rep.CommittedTPS, rep.Lost)
	if rep.Unconfirmed > 0 {
		fmt.Fprintf(tw, "committed without acceptance\t%d\n", rep.Unconfirmed)
	}
	fmt.Fprintf(tw, "inclusion p50 / p95 / p99 / max\t%.0f / %.0f / %.0f / %.0f ms (sent → block seen)\n", rep.Inclusion.P50, rep.Inclusion.P95, rep.Inclusion.P99, rep.Inclusion.Max)
	fmt.Fprintf(tw, "blocks\t%d (%d to %d), every %.0f ms, %.0f transfers each\n", rep.Blocks, rep.FirstBlock, rep.LastBlock, rep.BlockIntervalMs, rep.TxsPerBlock)
	win := rep.Window
	fmt.Fprintf(tw, "window\t%.1f s from %.1f s: %d requests (%.0f/s)\n", win.Seconds, win.StartSeconds, win.Requests, win.RequestsPS)
	fmt.Fprintf(tw, "  committed\t%d (%.0f tx/s) in %d blocks, %.0f transfers each\n", win.Committed, win.CommittedPS, win.Blocks, win.TxsPerBlock)
	fmt.Fprintf(tw, "  block interval avg / p95 / max\t%.0f / %.0f / %.0f ms\n", win.BlockIntervalMs, win.BlockIntervalP95Ms, win.BlockIntervalMaxMs)
	fmt.Fprintf(tw, "  inclusion p50 / p95 / p99 / max\t%.0f / %.0f / %.0f / %.0f ms\n", win.Inclusion.P50, win.Inclusion.P95, win.Inclusion.P99, win.Inclusion.Max)
	fmt.Fprintf(tw, "  client CPU\t%.2f cores, %.0f µs per request\n", win.ClientCores, win.ClientUsPerRequest)
	switch {
	case win.MetricsError != "":
		fmt.Fprintf(tw, "  node CPU\tunknown: %s\n", win.MetricsError)
	case win.Nodes > 0:
		fmt.Fprintf(tw, "  node CPU\t%.2f cores over %d nodes, %.0f µs per committed tx per node\n", win.NodeCores, win.Nodes, win.NodeUsPerTxPerNode)
	}
	if rep.Interrupted {
		fmt.Fprintf(tw, "interrupted\tthe figures are of the run so far\n")
	}
	_ = tw.Flush()
}
