package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
)

// runFlags are the flags of commands that run a node; set ones override
// the config file.
type runFlags struct {
	logLevel    string
	logFormat   string
	metricsAddr string
	noMetrics   bool
	rpcAddr     string
	noRPC       bool
	traffic     int
	p2pAddrs    string
	noP2P       bool
	bootstrap   string
}

func addRunFlags(fs *flag.FlagSet, r *runFlags) {
	d := node.DefaultConfig()
	fs.StringVar(&r.logLevel, "log.level", d.Log.Level, "log level: debug, info, warn, error")
	fs.StringVar(&r.logFormat, "log.format", d.Log.Format, "log format: text or json")
	fs.StringVar(&r.metricsAddr, "metrics.addr", d.Metrics.ListenAddr, "serve Prometheus metrics on this host:port (port 0 picks a free one)")
	fs.BoolVar(&r.noMetrics, "metrics.off", false, "do not serve metrics")
	fs.StringVar(&r.rpcAddr, "rpc.addr", d.RPC.ListenAddr, "serve JSON-RPC over HTTP and WebSocket on this host:port (port 0 picks a free one)")
	fs.BoolVar(&r.noRPC, "rpc.off", false, "do not serve JSON-RPC")
	fs.IntVar(&r.traffic, "dev.traffic", 0, "generate this many transfers per second among the dev accounts")
	fs.StringVar(&r.p2pAddrs, "p2p.addr", strings.Join(d.P2P.ListenAddrs, ","), "listen for peers on these multiaddrs (comma-separated); turns p2p on")
	fs.BoolVar(&r.noP2P, "p2p.off", false, "do not run the peer-to-peer layer")
	fs.StringVar(&r.bootstrap, "p2p.bootstrap", "", "dial these peers at start: multiaddrs ending in /p2p/<peer id> (comma-separated)")
}

func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (r *runFlags) apply(fs *flag.FlagSet, cfg *node.Config) {
	defer func() {
		if r.noP2P {
			cfg.P2P.Enabled = false
		}
	}()
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "log.level":
			cfg.Log.Level = r.logLevel
		case "log.format":
			cfg.Log.Format = r.logFormat
		case "metrics.addr":
			cfg.Metrics.ListenAddr = r.metricsAddr
		case "metrics.off":
			cfg.Metrics.Enabled = !r.noMetrics
		case "rpc.addr":
			cfg.RPC.ListenAddr = r.rpcAddr
		case "rpc.off":
			cfg.RPC.Enabled = !r.noRPC
		case "dev.traffic":
			cfg.Dev.Traffic = r.traffic
		case "p2p.addr":
			cfg.P2P.ListenAddrs = splitList(r.p2pAddrs)
			cfg.P2P.Enabled = true
		case "p2p.bootstrap":
			cfg.P2P.Bootstrap = splitList(r.bootstrap)
		}
	})
}

// allocFlag collects repeated --alloc address=wei values.
type allocFlag []chain.GenesisAccount

func (a *allocFlag) String() string { return fmt.Sprintf("%d accounts", len(*a)) }

func (a *allocFlag) Set(s string) error {
	addr, amount, ok := strings.Cut(s, "=")
	if !ok || !common.IsHexAddress(addr) {
		return fmt.Errorf("want 0xADDRESS=WEI, got %q", s)
	}
	v, err := chain.ParseU256(amount)
	if err != nil {
		return err
	}
	*a = append(*a, chain.GenesisAccount{Address: common.HexToAddress(addr), Balance: chain.U256{Int: v}})
	return nil
}

func runInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", stderr, "init [--home DIR] [flags]")
	home := fs.String("home", defaultHome(), "home directory to create")
	moniker := fs.String("moniker", "node0", "name of this node and of its validator")
	chainID := fs.Uint64("chain-id", node.DefaultChainID, "chain id (EIP-155)")
	blockTime := fs.Duration("block-time", time.Second, "time between blocks")
	feeRecipient := fs.String("fee-recipient", "", "address that receives this validator's fees (default: a new key in fee_key.json)")
	devAccounts := fs.Int("dev-accounts", 0, "prefund this many deterministic dev accounts (their keys are public)")
	passFile := fs.String("passphrase-file", "", "encrypt the validator key with the passphrase in this file")
	var alloc allocFlag
	fs.Var(&alloc, "alloc", "prefund an account: 0xADDRESS=WEI (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := node.InitOptions{Home: *home, Moniker: *moniker, ChainID: *chainID, BlockTime: *blockTime, Alloc: alloc, DevAccounts: *devAccounts}
	if err := checkChainFlags(*chainID, *blockTime); err != nil {
		return err
	}
	if strings.TrimSpace(*moniker) == "" {
		return fmt.Errorf("%w: --moniker must not be empty", errUsage)
	}
	if *devAccounts < 0 || *devAccounts > 10_000 {
		return fmt.Errorf("%w: --dev-accounts %d must be between 0 and 10000", errUsage, *devAccounts)
	}
	if *feeRecipient != "" {
		if !common.IsHexAddress(*feeRecipient) {
			return fmt.Errorf("%w: --fee-recipient %q is not an address", errUsage, *feeRecipient)
		}
		a := common.HexToAddress(*feeRecipient)
		o.FeeRecipient = &a
	}
	if *passFile != "" {
		// Read as start will read it: a file start would refuse is refused now.
		p, err := node.ReadPassphraseFile(*passFile)
		if err != nil {
			return err
		}
		defer clear(p[:cap(p)])
		o.Passphrase = p
		if o.PassphraseFile, err = filepath.Abs(*passFile); err != nil {
			return err
		}
	}
	res, err := node.Init(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Initialised %s\n  chain id       %d\n  genesis hash   %s\n  validator key  %s\n  fee recipient  %s\n",
		*home, res.Genesis.ChainID, res.Genesis.Hash(), res.ValidatorKey, res.FeeRecipient)
	if o.FeeRecipient == nil {
		fmt.Fprintf(stdout, "  fee key        %s (keep it safe)\n", filepath.Join(*home, node.FeeKeyFile))
	}
	fmt.Fprintf(stdout, "Start it with: bizra start --home %s\n", *home)
	return nil
}

// startConfig parses the flags of start (--home and the run flags) and
// returns the home's config with the flags applied over it.
func startConfig(name, usage string, args []string, stderr io.Writer) (node.Config, error) {
	fs := newFlagSet(name, stderr, usage)
	home := fs.String("home", defaultHome(), "home directory of the node")
	var rf runFlags
	addRunFlags(fs, &rf)
	if err := parse(fs, args); err != nil {
		return node.Config{}, err
	}
	cfg, err := loadHomeConfig(*home)
	if err != nil {
		return node.Config{}, err
	}
	rf.apply(fs, &cfg)
	return cfg, nil
}

func runStart(args []string, stdout, stderr io.Writer) error {
	cfg, err := startConfig("start", "start [--home DIR] [flags]", args, stderr)
	if err != nil {
		return err
	}
	// A local testnet's home gives the region of every validator, for
	// emulated wide-area latency.
	regions, err := node.LoadRegions(cfg.Home)
	if err != nil {
		return err
	}
	return runNode(cfg, node.Options{Regions: regions}, stdout, stderr, nil)
}

// runNode runs a node until SIGINT or SIGTERM. ready, if set, is called
// once the node has started.
func runNode(cfg node.Config, o node.Options, stdout, stderr io.Writer, ready func(n *node.Node)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := node.NewLogger(cfg.Log, stderr)
	o.Logger, o.Version = log, versionString()
	n, err := node.New(cfg, o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return errors.Join(err, n.Close())
	}
	if ready != nil {
		ready(n)
	}
	var failure error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-n.Failed():
		failure = fmt.Errorf("block production failed: %w", n.Err())
	}
	stop() // a second signal kills the process the default way
	return errors.Join(failure, n.Close())
}

func runDevnet(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devnet", stderr, "devnet [--home DIR] [flags]")
	home := fs.String("home", "", "home directory; reused if it exists (default: a temporary one, removed on exit)")
	chainID := fs.Uint64("chain-id", node.DefaultChainID, "chain id of a new devnet")
	blockTime := fs.Duration("block-time", time.Second, "time between blocks of a new devnet")
	accounts := fs.Int("accounts", 10, "dev accounts to fund and print")
	var rf runFlags
	addRunFlags(fs, &rf)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *accounts < 1 || *accounts > 10_000 {
		return fmt.Errorf("%w: --accounts %d must be between 1 and 10000", errUsage, *accounts)
	}
	if err := checkChainFlags(*chainID, *blockTime); err != nil {
		return err
	}
	temporary := *home == ""
	if temporary {
		dir, err := os.MkdirTemp("", "bizra-devnet-")
		if err != nil {
			return err
		}
		*home = dir
		defer os.RemoveAll(dir)
	}
	reused := node.IsHome(*home)
	if !reused {
		// One validator and nobody to talk to: the devnet opens no
		// peer-to-peer port unless its config is edited or --p2p.addr given.
		dc := node.DefaultConfig()
		dc.P2P.Enabled = false
		dc.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/9000", "/ip4/127.0.0.1/udp/9000/quic-v1"}
		if _, err := node.Init(node.InitOptions{Home: *home, Moniker: "devnet", ChainID: *chainID, BlockTime: *blockTime, DevAccounts: *accounts, Config: &dc}); err != nil {
			return err
		}
	}
	cfg, err := node.LoadConfig(*home)
	if err != nil {
		return err
	}
	if reused {
		if err := checkReuse(fs, cfg, *chainID, *blockTime, *accounts); err != nil {
			return err
		}
	}
	rf.apply(fs, &cfg)
	return runNode(cfg, node.Options{}, stdout, stderr, func(n *node.Node) {
		printDevnet(stdout, n, *home, temporary, reused)
	})
}

// checkChainFlags refuses chain parameters a genesis could not hold.
func checkChainFlags(chainID uint64, blockTime time.Duration) error {
	if chainID == 0 {
		return fmt.Errorf("%w: --chain-id must be positive", errUsage)
	}
	if blockTime < chain.MinBlockTime || blockTime > chain.MaxBlockTime {
		return fmt.Errorf("%w: --block-time %s must be between %s and %s", errUsage, blockTime, chain.MinBlockTime, chain.MaxBlockTime)
	}
	return nil
}

// checkReuse refuses flags that would change an existing devnet's genesis:
// they cannot apply to a chain that already runs.
func checkReuse(fs *flag.FlagSet, cfg node.Config, chainID uint64, blockTime time.Duration, accounts int) error {
	g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	if err != nil {
		return err
	}
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "chain-id" && chainID != g.ChainID:
			errs = append(errs, fmt.Errorf("--chain-id %d: the devnet in %s has chain id %d", chainID, cfg.Home, g.ChainID))
		case f.Name == "block-time" && blockTime != g.BlockTime.Duration:
			errs = append(errs, fmt.Errorf("--block-time %s: the devnet in %s has block time %s", blockTime, cfg.Home, g.BlockTime.Duration))
		case f.Name == "accounts" && accounts != len(node.FundedDevAccounts(g)):
			errs = append(errs, fmt.Errorf("--accounts %d: the devnet in %s funds %d dev accounts", accounts, cfg.Home, len(node.FundedDevAccounts(g))))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%w: these flags apply only to a new devnet; use another --home or leave them out:\n%w", errUsage, errors.Join(errs...))
	}
	return nil
}

func printDevnet(w io.Writer, n *node.Node, home string, temporary, reused bool) {
	g := n.Genesis()
	head, _ := n.Chain().Head()
	state := "new"
	switch {
	case temporary:
		state = "temporary, removed on exit"
	case reused:
		state = fmt.Sprintf("reused, at height %d", head.Height)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "BIZRA devnet is running\n")
	fmt.Fprintf(&b, "  home          %s (%s)\n", home, state)
	fmt.Fprintf(&b, "  chain id      %d\n", g.ChainID)
	fmt.Fprintf(&b, "  genesis hash  %s\n", g.Hash())
	fmt.Fprintf(&b, "  block time    %s\n", g.BlockTime.Duration)
	if addr := n.RPCAddr(); addr != "" {
		fmt.Fprintf(&b, "  JSON-RPC      http://%s\n", addr)
		fmt.Fprintf(&b, "  WebSocket     ws://%s\n", addr)
	}
	if addr := n.MetricsAddr(); addr != "" {
		fmt.Fprintf(&b, "  metrics       http://%s/metrics\n", addr)
	}
	fmt.Fprintf(&b, "\nDev accounts (1,000,000 coins each; these keys are public — use them on this devnet only):\n")
	for i, a := range node.FundedDevAccounts(g) {
		fmt.Fprintf(&b, "  (%d) %s  %s\n", i, a.Address, a.PrivateKeyHex())
	}
	fmt.Fprintf(&b, "\nPress Ctrl-C to stop.\n")
	io.WriteString(w, b.String())
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr, "verify [--home DIR]")
	home := fs.String("home", defaultHome(), "home directory of a stopped node")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := node.LoadConfig(*home)
	if err != nil {
		return err
	}
	g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	if err != nil {
		return err
	}
	st, err := chain.OpenStore(cfg.Path(cfg.Chain.DataDir), chain.DefaultStoreOptions())
	if err != nil {
		return fmt.Errorf("%w (is the node still running?)", err)
	}
	defer st.Close()
	start := time.Now()
	rep, err := chain.Verify(st, g)
	if err != nil {
		return err
	}
	certs, err := node.VerifyCertificates(st, g)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store is consistent: %d blocks, %d transactions replayed, %d accounts, %d certificates checked (%s)\n",
		rep.Height, rep.Txs, rep.Accounts, certs, time.Since(start).Round(time.Millisecond))
	return nil
}

func runKeys(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys", stderr, "keys [--home DIR]")
	home := fs.String("home", defaultHome(), "home directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := node.LoadConfig(*home)
	if err != nil {
		return err
	}
	vk, err := node.LoadValidatorKey(&cfg)
	if err != nil {
		return err
	}
	nk, err := node.LoadNodeKey(cfg.Path(cfg.P2P.NodeKeyFile))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "validator BLS public key  %s\nnode ed25519 public key   %s\n", vk.PublicKey(), hexutil.Encode(nk.Public().(ed25519.PublicKey)))
	if g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile)); err == nil {
		for _, v := range g.Validators {
			if bytes.Equal(v.PubKey, vk.PublicKey().Bytes()) {
				fmt.Fprintf(stdout, "validator name            %s\nfee recipient             %s\nstake                     %d of %d\n", v.Name, v.Address, v.Stake, g.TotalStake())
			}
		}
	}
	return nil
}
