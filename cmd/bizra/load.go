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
	fs := newFlagSet("load", stderr, "load [--rpc URL[,URL…]] [--rate TX/S --duration D | --txs N] [flags]\n       bizra load --read METHOD [--params JSON] --rate CALLS/S --duration D [flags]")
	d := testnet.DefaultLoadConfig()
	endpoints := fs.String("rpc", "http://"+node.DefaultConfig().RPC.ListenAddr, "JSON-RPC endpoints, comma separated; transfers go round-robin by sender")
	accounts := fs.Int("accounts", d.Accounts, "sending accounts (funded from the funder keys when short)")
	txs := fs.Int("txs", 0, "transfers to send (default: rate × duration)")
	rate := fs.Float64("rate", 0, "transfers (or, with --read, calls) per second; 0 = as fast as answered")
	duration := fs.Duration("duration", 0, "how long to send")
	batch := fs.Int("batch", d.Batch, "transfers per JSON-RPC batch")
	conns := fs.Int("conns", d.Conns, "concurrent senders (or callers)")
	seed := fs.String("seed", d.Seed, "names the sending accounts, so that runs reuse funded ones")
	settle := fs.Duration("settle", d.Settle, "how long to wait for commits after sending")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	read := fs.String("read", "", "measure this read method instead of sending transfers, e.g. eth_blockNumber")
	params := fs.String("params", "[]", "with --read: the JSON array of parameters")
	var funders keysFlag
	fs.Var(&funders, "funder-key", "0x private key that funds the sending accounts (repeatable; default: the devnet's dev accounts)")
	if err := parse(fs, args); err != nil {
		return err
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
		rc := testnet.ReadConfig{Endpoint: strings.Split(*endpoints, ",")[0], Method: *read, Params: ps, Rate: *rate, Duration: *duration, Conns: *conns}
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
		Endpoints: strings.Split(*endpoints, ","), Accounts: *accounts, Txs: *txs, Rate: *rate, Duration: *duration,
		Batch: *batch, Conns: *conns, Seed: *seed, Settle: *settle, Progress: progress, Funders: funders,
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
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	printLoadReport(stdout, rep)
	if rep.Lost > 0 {
		return fmt.Errorf("%d accepted transfers were not committed within %s", rep.Lost, *settle)
	}
	return nil
}

func printLoadReport(w io.Writer, rep *testnet.LoadReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "signed\t%d transfers in %.1f s before the clock started\n", rep.Sent, rep.SignSeconds)
	fmt.Fprintf(tw, "sent\t%d in %.1f s (%.0f tx/s offered)\n", rep.Sent, rep.SendSeconds, rep.OfferedTPS)
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
	if rep.TransportErrors > 0 {
		fmt.Fprintf(tw, "no answer (transport errors)\t%d\n", rep.TransportErrors)
	}
	fmt.Fprintf(tw, "committed\t%d (%.0f tx/s), lost %d\n", rep.Committed, rep.CommittedTPS, rep.Lost)
	if rep.Unconfirmed > 0 {
		fmt.Fprintf(tw, "committed without acceptance\t%d\n", rep.Unconfirmed)
	}
	fmt.Fprintf(tw, "inclusion p50 / p95 / p99 / max\t%.0f / %.0f / %.0f / %.0f ms (sent → block seen)\n", rep.Inclusion.P50, rep.Inclusion.P95, rep.Inclusion.P99, rep.Inclusion.Max)
	fmt.Fprintf(tw, "blocks\t%d (%d to %d), every %.0f ms, %.0f transfers each\n", rep.Blocks, rep.FirstBlock, rep.LastBlock, rep.BlockIntervalMs, rep.TxsPerBlock)
	_ = tw.Flush()
}
