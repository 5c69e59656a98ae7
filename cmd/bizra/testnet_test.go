package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/rpc"
)

// freePorts returns a base port such that base..base+n-1 are free on
// 127.0.0.1 for TCP and UDP right now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for try := range 200 {
		base := 20000 + (int(time.Now().UnixNano()/1000)+try*7919)%40000
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			_ = l.Close()
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			_ = u.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// TestTestnetSurvivesKill runs a 4-validator testnet from `bizra testnet
// init` as four `bizra start` processes over real libp2p on loopback,
// kills one with SIGKILL, checks that the other three keep committing,
// restarts it, and checks that it catches up by block sync from its
// persisted state, signs certificates again, and that every node holds
// the same blocks.
func TestTestnetSurvivesKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tn")
	base := freePorts(t, 12)
	run := func(args ...string) string {
		t.Helper()
		p := startBizra(t, args...)
		if code := p.wait(60 * time.Second); code != 0 {
			t.Fatalf("bizra %v exited %d:\n%s\n%s", args, code, p.stdout, p.stderr)
		}
		return p.stdout.String()
	}
	out := run("testnet", "init", "--dir", dir, "--validators", "4", "--block-time", "300ms",
		"--rpc-port", fmt.Sprint(base), "--metrics-port", fmt.Sprint(base+4), "--p2p-port", fmt.Sprint(base+8))
	if !regexp.MustCompile(`testnet of 4 validators`).MatchString(out) {
		t.Fatalf("init output:\n%s", out)
	}
	start := func(i int) *proc {
		return startBizra(t, "start", "--home", filepath.Join(dir, fmt.Sprintf("node%d", i)), "--log.format", "json", "--log.level", "info")
	}
	procs := make([]*proc, 4)
	for i := range procs {
		procs[i] = start(i)
	}
	waitHeights := func(what string, ps []*proc, h int64, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			done := true
			for _, p := range ps {
				if p.committed.Load() < h {
					done = false
				}
			}
			if done {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		var hs []int64
		for _, p := range ps {
			hs = append(hs, p.committed.Load())
		}
		t.Fatalf("%s: heights %v, want all >= %d within %s", what, hs, h, d)
	}
	waitHeights("start", procs, 5, 60*time.Second)

	// SIGKILL validator 1; the other three hold more than two thirds.
	_ = procs[1].cmd.Process.Kill()
	<-procs[1].done
	killedAt := procs[1].committed.Load()
	rest := []*proc{procs[0], procs[2], procs[3]}
	waitHeights("without validator 1", rest, killedAt+8, 60*time.Second)

	// Restart it: it resumes from its persisted state and catches up.
	procs[1] = start(1)
	target := procs[0].committed.Load() + 5
	waitHeights("after restart", procs, target, 90*time.Second)

	ctx := context.Background()
	clients := make([]*rpc.Client, 4)
	for i := range clients {
		clients[i] = rpc.NewClient(fmt.Sprintf("http://127.0.0.1:%d", base+i), 1)
	}
	// Same blocks everywhere.
	for h := int64(1); h <= target; h++ {
		var want chain.Hash
		for i, c := range clients {
			var blk struct {
				Hash chain.Hash `json:"hash"`
			}
			if err := c.Call(ctx, &blk, "eth_getBlockByNumber", hexutil.Uint64(h), false); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = blk.Hash
			} else if blk.Hash != want {
				t.Fatalf("height %d: node %d has %s, node 0 %s", h, i, blk.Hash, want)
			}
		}
	}
	// Validator 1 signs again: its name appears among the signers of the
	// certificates after the restart.
	signed := false
	for h := target - 4; h <= procs[0].committed.Load() && !signed; h++ {
		var cert struct {
			Decoded *rpc.Certificate `json:"decoded"`
		}
		if err := clients[0].Call(ctx, &cert, "bizra_getBlockCertificate", hexutil.Uint64(h)); err != nil {
			t.Fatal(err)
		}
		signed = cert.Decoded != nil && slices.Contains(cert.Decoded.Signers, "node1")
	}
	if !signed {
		t.Fatal("validator 1 signed none of the certificates after its restart")
	}
	var peers []rpc.Peer
	if err := clients[1].Call(ctx, &peers, "bizra_peers"); err != nil || len(peers) < 3 {
		t.Fatalf("bizra_peers on the restarted node: %v %+v", err, peers)
	}
}
