package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// p2pTestnet starts n validators in this process, each with its own libp2p
// host on 127.0.0.1; node 0 is every other node's bootstrap peer, and the
// others find each other through it.
func p2pTestnet(t *testing.T, n int, blockTime time.Duration) []*Node {
	t.Helper()
	cfgs := testnetHomes(t, n, blockTime)
	nodes := make([]*Node, n)
	for i := range cfgs {
		cfg := cfgs[i]
		cfg.P2P.Enabled = true
		cfg.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.RPC.Enabled = true
		cfg.RPC.ListenAddr = "127.0.0.1:0"
		if i > 0 {
			cfg.P2P.Bootstrap = nodes[0].P2PAddrs()
		}
		nd, err := New(cfg, Options{Logger: testLogger(t).With("node", i)})
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
}
