package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/p2p"
	"github.com/bizra/node0/rpc"
)

// p2pTestnet starts n validators in this process, each with its own libp2p
// host on 127.0.0.1; node 0 is every other node's bootstrap peer, and the
// others find each other through it.
func p2pTestnet(t *testing.T, n int, blockTime time.Duration, params ...chain.ConsensusParams) []*Node {
	t.Helper()
	return p2pTestnetWith(t, n, blockTime, nil, params...)
}

// hostOf is a running node's libp2p host.
func hostOf(nd *Node) *p2p.Host { return nd.net.current().host }

// p2pTestnetWith is p2pTestnet with tweak applied to each node's config
// and options.
func p2pTestnetWith(t *testing.T, n int, blockTime time.Duration, tweak func(i int, cfg *Config, o *Options), params ...chain.ConsensusParams) []*Node {
	t.Helper()
	cfgs := testnetHomes(t, n, blockTime, params...)
	nodes := make([]*Node, n)
	for i := range cfgs {
		cfg := cfgs[i]
		cfg.P2P.Enabled = true
		cfg.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.RPC.Enabled = true
		cfg.RPC.ListenAddr = "127.0.0.1:0"
		o := Options{Logger: testLogger(t).With("node", i)}
		if tweak != nil {
			tweak(i, &cfg, &o)
		}
		if i > 0 {
			// Node 0 is a persistent peer: redialled after a partition.
			cfg.P2P.Persistent = nodes[0].P2PAddrs()
		}
		nd, err := New(cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
		t.Cleanup(func() { _ = nd.Close() })
	}
	return nodes
}

func TestFourValidatorsOverLibp2p(t *testing.T) {
	nodes := p2pTestnet(t, 4, 300*time.Millisecond)
	const target = 5
	waitFor(t, 60*time.Second, fmt.Sprintf("every node at height %d", target), func() bool {
		for _, nd := range nodes {
			if h, _ := nd.Chain().Head(); h.Height < target {
				return false
			}
		}
		return true
	})
	for h := uint64(1); h <= target; h++ {
		var want chain.Hash
		for i, nd := range nodes {
			hdr, err := nd.store.Header(h)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = hdr.Hash()
			} else if hdr.Hash() != want {
				t.Fatalf("height %d: node %d has %s, node 0 %s", h, i, hdr.Hash(), want)
			}
		}
	}
	// Discovery: every node learned of the others through node 0.
	waitFor(t, 30*time.Second, "three peers each", func() bool {
		for _, nd := range nodes {
			if len(nd.net.Peers()) < 3 {
				return false
			}
		}
		return true
	})
	c := rpc.NewClient("http://"+nodes[2].RPCAddr(), 1)
	var peers []rpc.Peer
	if err := c.Call(context.Background(), &peers, "bizra_peers"); err != nil {
		t.Fatal(err)
	}
	if len(peers) < 3 {
		t.Fatalf("bizra_peers: %+v", peers)
	}
	var st rpc.Status
	var sync rpc.SyncStatus
	if err := c.Call(context.Background(), &st, "bizra_status"); err != nil || st.Peers < 3 || st.Syncing {
		t.Fatalf("bizra_status: %+v, %v", st, err)
	}
	if err := c.Call(context.Background(), &sync, "eth_syncing"); err != nil || sync.Syncing {
		t.Fatalf("eth_syncing: %+v, %v", sync, err)
	}
}

func heightOf(nd *Node) uint64 { h, _ := nd.Chain().Head(); return h.Height }

// sameChain fails unless every node holds the same block at every height
// up to the lowest head.
func sameChain(t *testing.T, nodes []*Node) {
	t.Helper()
	low := heightOf(nodes[0])
	for _, nd := range nodes {
		low = min(low, heightOf(nd))
	}
	for h := uint64(1); h <= low; h++ {
		want, err := nodes[0].store.Header(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, nd := range nodes[1:] {
			got, err := nd.store.Header(h)
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash() != want.Hash() {
				t.Fatalf("height %d: node %d has %s, node 0 %s", h, i+1, got.Hash(), want.Hash())
			}
		}
	}
}

// TestPartitionedValidatorOverLibp2p cuts validator 3 off from the others
// (each side bans the other's peer IDs: connections close and are
// refused). The three keep committing; the one cannot, and commits nothing
// else either. When the partition heals it reconnects, catches up by block
// sync, and everyone holds the same chain.
func TestPartitionedValidatorOverLibp2p(t *testing.T) {
	nodes := p2pTestnet(t, 4, 300*time.Millisecond)
	waitFor(t, 60*time.Second, "height 3 everywhere", func() bool {
		for _, nd := range nodes {
			if heightOf(nd) < 3 {
				return false
			}
		}
		return true
	})
	lone := nodes[3]
	for _, nd := range nodes[:3] {
		if err := hostOf(nd).Ban(hostOf(lone).ID(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := hostOf(lone).Ban(hostOf(nd).ID(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	cut := heightOf(lone)
	majority := heightOf(nodes[0])
	waitFor(t, 60*time.Second, "the majority commits 6 more blocks", func() bool { return heightOf(nodes[0]) >= majority+6 })
	// It may still apply blocks certified before the cut (a sync answer or
	// a certificate in flight when the ban landed; under the race detector
	// it can lag several blocks behind), but none the majority made after.
	if h := heightOf(lone); h > max(cut, majority)+1 {
		t.Fatalf("the partitioned validator went from %d to %d alone (the majority was at %d at the cut)", cut, h, majority)
	}
	sameChain(t, nodes)

	for _, nd := range nodes[:3] {
		if err := hostOf(nd).Unban(hostOf(lone).ID()); err != nil {
			t.Fatal(err)
		}
		if err := hostOf(lone).Unban(hostOf(nd).ID()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 90*time.Second, "the partitioned validator catches up", func() bool { return heightOf(lone) >= heightOf(nodes[0]) })
	sameChain(t, nodes)
}

// TestSpammerIsCutOff joins a host of the same chain that publishes
// forged votes; the validators reject them at the first hop, score the
// sender down and disconnect it, and keep committing.
func TestSpammerIsCutOff(t *testing.T) {
	nodes := p2pTestnet(t, 4, 300*time.Millisecond)
	g := nodes[0].genesis
	cfg := p2p.DefaultConfig()
	cfg.ChainID, cfg.Genesis = g.ChainID, g.Hash()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Bootstrap = nodes[0].P2PAddrs()
	cfg.DHT = false
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spam, err := p2p.New(key, cfg, p2p.Options{Logger: testLogger(t).With("node", "spammer"), Protocol: protocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer spam.Close()
	votes, err := spam.Join(topicVotes, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the spammer is connected", func() bool { return spam.PeerCount() > 0 })
	start := heightOf(nodes[0])
	forged := sampleVote() // a well-formed vote whose signature is garbage
	forged.From, forged.Vote.Validator = 1, 1
	deadline := time.Now().Add(30 * time.Second)
	sent := 0
	for spam.PeerCount() > 0 && time.Now().Before(deadline) && sent < 10_000 {
		forged.Vote.Round = uint64(sent) // a new message each time
		forged.Vote.Height = heightOf(nodes[0]) + 1
		_ = votes.Publish(encodeWire(0, forged))
		sent++
		time.Sleep(5 * time.Millisecond)
	}
	if spam.PeerCount() > 0 {
		t.Fatalf("the spammer is still connected after %d forged votes", sent)
	}
	for _, p := range nodes[0].net.Peers() {
		if p.ID == spam.ID() {
			t.Fatal("node 0 still lists the spammer")
		}
	}
	waitFor(t, 60*time.Second, "3 more blocks", func() bool { return heightOf(nodes[0]) >= start+3 })
	sameChain(t, nodes)
	t.Logf("spammer cut off after %d forged votes", sent)
}

// TestCommitteeSubnetsOverLibp2p runs eight validators in two committees,
// reshuffled every four blocks: each validator follows its committee's
// vote subnet, votes reach the aggregators there, and the chain grows the
// same everywhere across several epochs.
func TestCommitteeSubnetsOverLibp2p(t *testing.T) {
	nodes := p2pTestnet(t, 8, 300*time.Millisecond, chain.ConsensusParams{Committees: 2, EpochLength: 4})
	waitFor(t, 120*time.Second, "height 13 everywhere", func() bool {
		for _, nd := range nodes {
			if heightOf(nd) < 13 {
				return false
			}
		}
		return true
	})
	sameChain(t, nodes)
	var onSubnets float64
	var aggregates uint64
	for _, nd := range nodes {
		mfs, err := nd.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "bizra_p2p_messages_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var topic, result string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "topic":
						topic = l.GetValue()
					case "result":
						result = l.GetValue()
					}
				}
				if result == "accept" && (topic == voteSubnet(0) || topic == voteSubnet(1)) {
					onSubnets += m.GetCounter().GetValue()
				}
			}
		}
		aggregates += nd.engine.Consensus().Stats.AggregatesReceived
	}
	if onSubnets == 0 || aggregates == 0 {
		t.Fatalf("votes accepted on the committee subnets: %v, aggregates received: %d", onSubnets, aggregates)
	}
	t.Logf("%v votes on subnets, %d aggregates", onSubnets, aggregates)
}

func TestRegionLatency(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want time.Duration
	}{
		{"us-east", "us-east", 2 * time.Millisecond},
		{"us-east", "eu-west", 40 * time.Millisecond},
		{"eu-west", "us-east", 40 * time.Millisecond},
		{"ap", "eu-west", 150 * time.Millisecond},
		{"us-east", "ap", 110 * time.Millisecond},
		{"", "ap", 0},
		{"mars", "ap", 0},
	} {
		if got := RegionLatency(c.a, c.b); got != c.want {
			t.Errorf("RegionLatency(%q, %q) = %s, want %s", c.a, c.b, got, c.want)
		}
	}
	// The decorator holds a message for the latency from its sender's
	// region to its own: from v0 (us-east) to v1 (ap), 110 ms.
	mem := NewMemNetwork()
	a, _ := mem.Join(0, nil)
	b, _ := mem.Join(1, nil)
	l := newLatencyTransport(b, 1, []string{"us-east", "ap"})
	defer l.Close()
	vote := sampleVote()
	vote.From, vote.Vote.Validator = 0, 0
	start := time.Now()
	a.Send([]uint32{1}, vote)
	select {
	case m := <-l.Messages():
		if waited := time.Since(start); waited < 110*time.Millisecond {
			t.Fatalf("delivered after %s, before the 110ms from us-east to ap", waited)
		}
		if m.Kind != consensus.KindVote {
			t.Fatalf("delivered %v", m.Kind)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message was never delivered")
	}
}

// TestRegionsSlowConsensus runs four validators over libp2p with two in
// us-east and two in ap: every quorum needs a validator across the 110 ms
// link, so a block takes at least two round trips across it, and the
// chain's 300 ms interval stretches to more than 400 ms.
func TestRegionsSlowConsensus(t *testing.T) {
	regions := []string{"us-east", "ap", "us-east", "ap"}
	nodes := p2pTestnetWith(t, 4, 300*time.Millisecond, func(_ int, _ *Config, o *Options) { o.Regions = regions })
	waitFor(t, 60*time.Second, "height 3", func() bool { return heightOf(nodes[0]) >= 3 })
	from := heightOf(nodes[0])
	waitFor(t, 60*time.Second, "10 more blocks", func() bool { return heightOf(nodes[0]) >= from+10 })
	a, err := nodes[0].store.Header(from)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nodes[0].store.Header(from + 10)
	if err != nil {
		t.Fatal(err)
	}
	interval := time.Duration(b.Timestamp-a.Timestamp) * time.Millisecond / 10
	if interval < 400*time.Millisecond {
		t.Fatalf("mean block interval %s with a 110 ms link in every quorum, want more than 400ms", interval)
	}
	sameChain(t, nodes)
	t.Logf("mean block interval %s", interval)
}

func TestRegionsFile(t *testing.T) {
	home := t.TempDir()
	if got, err := LoadRegions(home); got != nil || err != nil {
		t.Fatalf("a home without regions: %v, %v", got, err)
	}
	if err := SaveRegions(home, []string{"us-east", "mars"}); !errors.Is(err, ErrRegions) {
		t.Fatalf("saving an unknown region: %v", err)
	}
	if err := SaveRegions(home, []string{"eu-west", "ap"}); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadRegions(home); err != nil || !slices.Equal(got, []string{"eu-west", "ap"}) {
		t.Fatalf("loaded %v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(home, RegionsFileName), []byte(`["ap", 7]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRegions(home); !errors.Is(err, ErrRegions) {
		t.Fatalf("a malformed file: %v", err)
	}
	// A node refuses regions that do not name every validator.
	cfg := newTestHome(t, 100*time.Millisecond, time.Time{})
	if _, err := New(cfg, Options{Logger: testLogger(t), Regions: []string{"ap", "ap"}}); !errors.Is(err, ErrRegions) {
		t.Fatalf("New with two regions for one validator: %v", err)
	}
}

func TestSyncState(t *testing.T) {
	var head, best uint64
	cfg := Config{ReadyMaxLag: 2}
	tr := &syncTracker{caughtUp: cfg.CaughtUp, head: func() uint64 { return head }, best: func() uint64 { return best }}
	for _, c := range []struct {
		head, best uint64
		want       SyncState
	}{
		{0, 0, SyncState{}},
		{10, 12, SyncState{Current: 10, Highest: 12}}, // within the lag
		{10, 13, SyncState{Syncing: true, Starting: 10, Current: 10, Highest: 13}}, // beyond it
		{11, 20, SyncState{Syncing: true, Starting: 10, Current: 11, Highest: 20}}, // the stretch began at 10
		{18, 20, SyncState{Current: 18, Highest: 20}},                              // caught up
		{18, 30, SyncState{Syncing: true, Starting: 18, Current: 18, Highest: 30}}, // a new stretch
		{31, 30, SyncState{Current: 31, Highest: 31}},                              // ahead of the peers
	} {
		head, best = c.head, c.best
		if got := tr.state(); got != c.want {
			t.Fatalf("head %d best %d: %+v, want %+v", c.head, c.best, got, c.want)
		}
	}
}

// TestSyncingOverJSONRPC connects a peer that advertises a height far
// ahead: the node reports syncing (eth_syncing's object, bizra_status's
// peers, syncing and highestBlock) by the ready_max_lag rule, and stops
// reporting it when that peer leaves.
func TestSyncingOverJSONRPC(t *testing.T) {
	nodes := p2pTestnetWith(t, 1, 200*time.Millisecond, func(_ int, cfg *Config, _ *Options) { cfg.P2P.DHT = false })
	nd := nodes[0]
	waitFor(t, 30*time.Second, "height 2", func() bool { return heightOf(nd) >= 2 })
	g := nd.genesis
	cfg := p2p.DefaultConfig()
	cfg.ChainID, cfg.Genesis = g.ChainID, g.Hash()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Bootstrap = nd.P2PAddrs()
	cfg.DHT = false
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const ahead = 1_000_000
	peer, err := p2p.New(key, cfg, p2p.Options{Logger: testLogger(t).With("node", "ahead"), Protocol: protocolVersion, Head: func() uint64 { return ahead }})
	if err != nil {
		t.Fatal(err)
	}
	c := rpc.NewClient("http://"+nd.RPCAddr(), 1)
	var syncing struct {
		StartingBlock, CurrentBlock, HighestBlock hexutil.Uint64
	}
	waitFor(t, 30*time.Second, "eth_syncing to report the peer's height", func() bool {
		var raw json.RawMessage
		if err := c.Call(context.Background(), &raw, "eth_syncing"); err != nil || string(raw) == "false" {
			return false
		}
		return json.Unmarshal(raw, &syncing) == nil && syncing.HighestBlock == ahead
	})
	if syncing.CurrentBlock == 0 || syncing.StartingBlock > syncing.CurrentBlock {
		t.Fatalf("eth_syncing %+v", syncing)
	}
	var st rpc.Status
	if err := c.Call(context.Background(), &st, "bizra_status"); err != nil {
		t.Fatal(err)
	}
	if st.Peers != 1 || !st.Syncing || st.HighestBlock != ahead {
		t.Fatalf("bizra_status peers %d syncing %v highest %d", st.Peers, st.Syncing, st.HighestBlock)
	}
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "eth_syncing false once the peer left", func() bool {
		var raw json.RawMessage
		return c.Call(context.Background(), &raw, "eth_syncing") == nil && string(raw) == "false"
	})
}
