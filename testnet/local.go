package testnet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/node"
)

// LocalOptions describe a local testnet: N validators on this machine,
// each with its own home directory under Dir and its own loopback ports.
type LocalOptions struct {
	Dir        string
	Validators int
	ChainID    uint64
	BlockTime  time.Duration
	// DevAccounts funded at genesis (the load tool funds its senders from
	// them).
	DevAccounts int
	// Committees is the genesis committee count (1: votes go straight to
	// the leader).
	Committees int
	// Regions are assigned to the nodes in turn, for emulated wide-area
	// latency: every home gets the region of every validator in
	// node.RegionsFileName, which `bizra start` reads; empty adds none.
	Regions []string
	// Ports of node 0; node i uses port + i.
	RPCPort, MetricsPort, P2PPort int
}

// DefaultLocalOptions: 4 validators, 1 s blocks, ports 8545, 6060 and 9000
// upwards.
func DefaultLocalOptions() LocalOptions {
	return LocalOptions{
		Validators: 4, ChainID: node.DefaultChainID, BlockTime: time.Second, DevAccounts: 10, Committees: 1,
		RPCPort: 8545, MetricsPort: 6060, P2PPort: 9000,
	}
}

// Validate reports every problem at once.
func (o *LocalOptions) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(o.Dir) == "" {
		bad("the testnet directory is empty")
	}
	if o.Validators < 1 || o.Validators > 64 {
		bad("validators %d must be between 1 and 64 on one machine", o.Validators)
	}
	if o.ChainID == 0 {
		bad("chain id must be positive")
	}
	if o.BlockTime < chain.MinBlockTime || o.BlockTime > chain.MaxBlockTime {
		bad("block time %s must be between %s and %s", o.BlockTime, chain.MinBlockTime, chain.MaxBlockTime)
	}
	if o.DevAccounts < 1 || o.DevAccounts > 10_000 {
		bad("dev accounts %d must be between 1 and 10000", o.DevAccounts)
	}
	if o.Committees < 1 || o.Committees > chain.MaxCommittees {
		bad("committees %d must be between 1 and %d", o.Committees, chain.MaxCommittees)
	}
	known := node.RegionNames()
	for _, r := range o.Regions {
		if !contains(known, r) {
			bad("region %q must be one of %s", r, strings.Join(known, ", "))
		}
	}
	for _, p := range []struct {
		name string
		port int
	}{{"rpc", o.RPCPort}, {"metrics", o.MetricsPort}, {"p2p", o.P2PPort}} {
		if p.port < 1024 || p.port+o.Validators > 65535 {
			bad("%s port %d must leave room for %d nodes between 1024 and 65535", p.name, p.port, o.Validators)
		}
	}
	return errors.Join(errs...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// LocalNode is one node of a local testnet.
type LocalNode struct {
	Home     string
	Moniker  string
	RPC      string // http://host:port
	Metrics  string // http://host:port/metrics
	PeerAddr string // its TCP multiaddr with /p2p/<id>
}

// homeName is node i's directory under the testnet directory.
func homeName(i int) string { return fmt.Sprintf("node%d", i) }

// InitLocal writes the homes of a local testnet: keys, configs with
// distinct loopback ports where every node keeps every other as a
// persistent peer, and one genesis holding every validator (with its proof
// of possession) and the funded dev accounts.
func InitLocal(o LocalOptions) ([]LocalNode, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	if entries, err := os.ReadDir(o.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("testnet: %s is not empty", o.Dir)
	}
	gt := time.Now().UTC().Truncate(time.Second)
	nodes := make([]LocalNode, o.Validators)
	cfgs := make([]node.Config, o.Validators)
	var vals []chain.GenesisValidator
	var g *chain.Genesis
	for i := range o.Validators {
		cfg := node.DefaultConfig()
		cfg.RPC.ListenAddr = fmt.Sprintf("127.0.0.1:%d", o.RPCPort+i)
		cfg.Metrics.ListenAddr = fmt.Sprintf("127.0.0.1:%d", o.MetricsPort+i)
		port := o.P2PPort + i
		cfg.P2P.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)}
		home := filepath.Join(o.Dir, homeName(i))
		res, err := node.Init(node.InitOptions{
			Home: home, Moniker: homeName(i), ChainID: o.ChainID, BlockTime: o.BlockTime,
			DevAccounts: o.DevAccounts, Config: &cfg, GenesisTime: gt,
		})
		if err != nil {
			return nil, err
		}
		id, err := peerIDOf(res.Config)
		if err != nil {
			return nil, err
		}
		nodes[i] = LocalNode{
			Home: home, Moniker: homeName(i),
			RPC: "http://" + cfg.RPC.ListenAddr, Metrics: "http://" + cfg.Metrics.ListenAddr + "/metrics",
			PeerAddr: fmt.Sprintf("%s/p2p/%s", cfg.P2P.ListenAddrs[0], id),
		}
		cfgs[i] = res.Config
		vals = append(vals, res.Genesis.Validators...)
		g = res.Genesis
	}
	g.Validators = vals
	g.Consensus.Committees = o.Committees
	if err := g.Validate(); err != nil {
		return nil, err
	}
	regions := regionsOf(o)
	for i := range cfgs {
		cfg := &cfgs[i]
		if err := g.Save(cfg.Path(cfg.Chain.GenesisFile)); err != nil {
			return nil, err
		}
		cfg.P2P.Persistent = []string{}
		for j, other := range nodes {
			if j != i {
				cfg.P2P.Persistent = append(cfg.P2P.Persistent, other.PeerAddr)
			}
		}
		if err := os.WriteFile(filepath.Join(cfg.Home, node.ConfigFileName), node.EncodeConfig(cfg), 0o644); err != nil {
			return nil, err
		}
		if regions != nil {
			if err := node.SaveRegions(cfg.Home, regions); err != nil {
				return nil, err
			}
		}
	}
	return nodes, nil
}

// regionsOf is the region of every validator: the regions assigned in
// turn; nil without regions.
func regionsOf(o LocalOptions) []string {
	if len(o.Regions) == 0 {
		return nil
	}
	out := make([]string, o.Validators)
	for i := range out {
		out[i] = o.Regions[i%len(o.Regions)]
	}
	return out
}

// peerIDOf derives the libp2p peer ID of a home's node key.
func peerIDOf(cfg node.Config) (peer.ID, error) {
	key, err := node.LoadNodeKey(cfg.Path(cfg.P2P.NodeKeyFile))
	if err != nil {
		return "", err
	}
	pub, err := lcrypto.UnmarshalEd25519PublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pub)
}

// LoadLocal finds the nodes of a testnet directory written by InitLocal.
func LoadLocal(dir string) ([]LocalNode, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	var homes []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "node") && node.IsHome(filepath.Join(dir, e.Name())) {
			homes = append(homes, e.Name())
		}
	}
	if len(homes) == 0 {
		return nil, fmt.Errorf("testnet: no node homes in %s (bizra testnet init --dir %s)", dir, dir)
	}
	sort.Slice(homes, func(i, j int) bool {
		return len(homes[i]) < len(homes[j]) || (len(homes[i]) == len(homes[j]) && homes[i] < homes[j])
	})
	var out []LocalNode
	for _, h := range homes {
		cfg, err := node.LoadConfig(filepath.Join(dir, h))
		if err != nil {
			return nil, err
		}
		id, err := peerIDOf(cfg)
		if err != nil {
			return nil, err
		}
		ln := LocalNode{Home: cfg.Home, Moniker: cfg.Moniker, RPC: "http://" + cfg.RPC.ListenAddr, Metrics: "http://" + cfg.Metrics.ListenAddr + "/metrics"}
		if len(cfg.P2P.ListenAddrs) > 0 {
			ln.PeerAddr = fmt.Sprintf("%s/p2p/%s", cfg.P2P.ListenAddrs[0], id)
		}
		out = append(out, ln)
	}
	return out, nil
}

// RunLocal runs every node of a testnet directory as a child process of
// bin (`bin start --home H`, logs in H/node.log) until ctx ends, then
// stops them all with SIGTERM (SIGKILL after stopGrace). A node that exits
// on its own is reported on out; the others keep running.
func RunLocal(ctx context.Context, dir, bin string, extraArgs []string, out io.Writer) error {
	nodes, err := LoadLocal(dir)
	if err != nil {
		return err
	}
	type child struct {
		n        LocalNode
		cmd      *exec.Cmd
		log      *os.File
		finished chan struct{}
		err      error // set before finished closes
	}
	var children []*child
	exited := make(chan *child, len(nodes))
	stopAll := func() {
		for _, c := range children {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
		deadline := time.After(stopGrace)
		for _, c := range children {
			select {
			case <-c.finished:
			case <-deadline:
				_ = c.cmd.Process.Kill()
				<-c.finished
			}
			_ = c.log.Close()
		}
	}
	for _, n := range nodes {
		logf, err := os.OpenFile(filepath.Join(n.Home, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			stopAll()
			return err
		}
		cmd := exec.Command(bin, append([]string{"start", "--home", n.Home}, extraArgs...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			_ = logf.Close()
			stopAll()
			return fmt.Errorf("testnet: start %s: %w", n.Moniker, err)
		}
		c := &child{n: n, cmd: cmd, log: logf, finished: make(chan struct{})}
		go func() {
			c.err = cmd.Wait()
			close(c.finished)
			exited <- c
		}()
		children = append(children, c)
		fmt.Fprintf(out, "%-8s pid %-7d rpc %-24s metrics %-32s log %s\n", n.Moniker, cmd.Process.Pid, n.RPC, n.Metrics, filepath.Join(n.Home, "node.log"))
	}
	fmt.Fprintf(out, "\n%d nodes running. Load them all, one transfer per request, with:\n  bizra load --testnet %s --rate 1000 --duration 30s\n(or --rpc %s)\nPress Ctrl-C to stop.\n",
		len(nodes), dir, joinRPC(nodes))
	running := len(children)
	for running > 0 {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopping the testnet")
			stopAll()
			return nil
		case c := <-exited:
			running--
			fmt.Fprintf(out, "%s exited (%v); see %s\n", c.n.Moniker, c.err, filepath.Join(c.n.Home, "node.log"))
		}
	}
	stopAll()
	return errors.New("testnet: every node exited")
}

// stopGrace is how long nodes get to stop after SIGTERM.
const stopGrace = 15 * time.Second

func joinRPC(nodes []LocalNode) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.RPC
	}
	return strings.Join(urls, ",")
}
