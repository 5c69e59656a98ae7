package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bizra/node0/node"
	"github.com/bizra/node0/testnet"
)

// runTestnet is `bizra testnet init`, `bizra testnet start`, or, without a
// subcommand, both: a fresh testnet in --dir (a temporary directory unless
// given), run until Ctrl-C.
func runTestnet(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "init":
			return runTestnetInit(args[1:], stdout, stderr)
		case "start":
			return runTestnetStart(args[1:], stdout, stderr)
		}
	}
	fs := newFlagSet("testnet", stderr, "testnet [init|start] [--validators N] [--dir D] [flags]")
	o := testnetFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	temporary := o.Dir == ""
	if temporary {
		dir, err := os.MkdirTemp("", "bizra-testnet-")
		if err != nil {
			return err
		}
		o.Dir = dir
		defer os.RemoveAll(dir)
	}
	if err := initTestnet(o, stdout); err != nil {
		return err
	}
	return startTestnet(o.Dir, stdout)
}

func testnetFlags(fs *flag.FlagSet) *testnet.LocalOptions {
	o := testnet.DefaultLocalOptions()
	fs.StringVar(&o.Dir, "dir", "", "testnet directory (one home per node inside)")
	fs.IntVar(&o.Validators, "validators", o.Validators, "number of validators")
	fs.Uint64Var(&o.ChainID, "chain-id", o.ChainID, "chain id")
	fs.DurationVar(&o.BlockTime, "block-time", o.BlockTime, "time between blocks")
	fs.IntVar(&o.DevAccounts, "accounts", o.DevAccounts, "dev accounts funded at genesis")
	fs.IntVar(&o.Committees, "committees", o.Committees, "vote-aggregation committees (genesis parameter)")
	fs.IntVar(&o.RPCPort, "rpc-port", o.RPCPort, "JSON-RPC port of node 0 (node i: +i)")
	fs.IntVar(&o.MetricsPort, "metrics-port", o.MetricsPort, "metrics port of node 0 (node i: +i)")
	fs.IntVar(&o.P2PPort, "p2p-port", o.P2PPort, "libp2p TCP and QUIC port of node 0 (node i: +i)")
	fs.Func("regions", "comma-separated region labels assigned to the nodes in turn, for emulated latency ("+strings.Join(node.RegionNames(), ", ")+")", func(s string) error {
		o.Regions = splitList(s)
		return nil
	})
	return &o
}

func runTestnetInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("testnet init", stderr, "testnet init --dir D [--validators N] [flags]")
	o := testnetFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Dir == "" {
		return fmt.Errorf("%w: --dir is required", errUsage)
	}
	return initTestnet(o, stdout)
}

func initTestnet(o *testnet.LocalOptions, stdout io.Writer) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	nodes, err := testnet.InitLocal(*o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "testnet of %d validators in %s (chain id %d, %s blocks)\n", len(nodes), o.Dir, o.ChainID, o.BlockTime)
	for _, n := range nodes {
		fmt.Fprintf(stdout, "  %-8s %s\n", n.Moniker, n.PeerAddr)
	}
	fmt.Fprintln(stdout, "\nDev accounts (funded on every node; their keys are public):")
	for _, a := range node.DevAccounts(min(o.DevAccounts, 10)) {
		fmt.Fprintf(stdout, "  %s  %s\n", a.Address.Hex(), a.PrivateKeyHex())
	}
	return nil
}

func runTestnetStart(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("testnet start", stderr, "testnet start --dir D")
	dir := fs.String("dir", "", "testnet directory written by bizra testnet init")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: --dir is required", errUsage)
	}
	return startTestnet(*dir, stdout)
}

func startTestnet(dir string, stdout io.Writer) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err = testnet.RunLocal(ctx, dir, bin, nil, stdout)
	if err == nil || errors.Is(err, context.Canceled) {
		fmt.Fprintf(stdout, "testnet stopped after %s\n", time.Since(start).Round(time.Second))
		return nil
	}
	return err
}
