//go:build unix

package node

// Attacks on a live testnet (issue 12): four validators in this process on
// real libp2p, honest load where it matters, and one adversary peer that
// holds no key (adversary_test.go). Each test measures a baseline window
// with the adversary connected and idle, then an attack window, and
// checks what must hold once the attacks are fixed:
//
//   - the chain keeps its pace: blocks per second in the attack window at
//     least intervalShare of the baseline's;
//   - the adversary is scored out (no validator lists it as a peer) where
//     the issue says a peer doing this must be penalised;
//   - CPU and memory stay bounded (this process's CPU holds every node,
//     the adversary and the load; the heap is every node's together).
//
// Every figure is logged (go test -run TestAttack -v). The tolerances:
//
//   - intervalShare 0.7: on this 2-core machine, shared with other work,
//     the honest baseline windows of these tests (300 ms blocks) ranged
//     2.5-3.3 blocks/s over a dozen runs (once 1.8, at a load average of
//     17), and the windows of an attack that did no harm (stop reading)
//     came within 15 % of their baselines; 0.7 leaves that noise and still
//     catches an attack that costs a third of the blocks. The unfixed code
//     lost 60-95 % of them (numbers in each test's comment).
//   - attackCPUSlack 0.6 cores above the baseline. In this process the
//     unfixed attacks show as lost blocks more than as CPU (the validators
//     wait out round timeouts): attack windows used 0.6-0.9 cores against
//     baselines of 0.3-0.8. The bound says a fix must not buy the pace with
//     CPU: the adversary itself (publishing, its router, signing) and the
//     first-hop refusals of what it sends fit in half a core.
//
// The tests are skipped under the race detector, where the honest testnet
// of this machine makes a third of a block a second with round timeouts
// in its baseline (the harness itself was run under it: no race), and
// when a baseline window shows the machine too loaded to measure anything
// (see measureBaseline).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
	"github.com/bizra/node0/rpc"
)

const (
	attackBlockTime = 300 * time.Millisecond
	baselineWindow  = 6 * time.Second
	attackWindow    = 8 * time.Second
	intervalShare   = 0.7
	attackCPUSlack  = 0.6
	// scoreGrace is how long after an attack a node may take to drop the
	// adversary: scores are inspected every second.
	scoreGrace = 4 * time.Second
	// stallGrace is how long after its attack window a peer that does not
	// read may stay connected (it goes on not reading).
	stallGrace = 20 * time.Second
)

// raceDetector reports whether the test binary runs under the race
// detector.
func raceDetector() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// attackTestnet starts four validators on libp2p with 300 ms blocks and
// honest load of load transfers a second (0: none) from nine dev
// accounts, and waits until they run and see each other.
func attackTestnet(t *testing.T, load int) []*Node {
	t.Helper()
	if raceDetector() {
		t.Skip("an attack on a live testnet measures nothing under the race detector: its honest baseline already times out rounds")
	}
	nodes := p2pTestnet(t, 4, attackBlockTime)
	waitFor(t, 60*time.Second, "height 3 and three peers on every node", func() bool {
		for _, nd := range nodes {
			if heightOf(nd) < 3 || len(hostOf(nd).Peers()) < 3 {
				return false
			}
		}
		return true
	})
	if load > 0 {
		startHonestLoad(t, nodes, load, DevAccounts(10)[:9])
	}
	return nodes
}

// keepsPace fails unless the chain made at least intervalShare of the
// baseline's blocks per second under attack.
func keepsPace(t *testing.T, base, att netWindow) {
	t.Helper()
	if att.blocksPerSec() < intervalShare*base.blocksPerSec() {
		t.Errorf("the chain slowed under attack: %.2f blocks/s (interval %s), baseline %.2f (interval %s); want at least %.0f%% of it",
			att.blocksPerSec(), att.interval().Round(time.Millisecond), base.blocksPerSec(), base.interval().Round(time.Millisecond), 100*intervalShare)
	}
}

// measureBaseline measures the honest window before an attack, and skips
// the test when the machine is too loaded for it to mean anything: round
// timeouts among honest validators, or under baselineFloor of the
// configured block rate.
func measureBaseline(t *testing.T, nodes []*Node) netWindow {
	t.Helper()
	base := measure(t, nodes, "baseline", baselineWindow, nil)
	if nominal := float64(time.Second) / float64(attackBlockTime); base.timeouts >= 3 || base.blocksPerSec() < baselineFloor*nominal {
		t.Skipf("the machine is too loaded to measure an attack: the honest baseline made %.2f blocks/s of %.2f, with %.0f round timeouts", base.blocksPerSec(), nominal, base.timeouts)
	}
	return base
}

// baselineFloor is the share of the configured block rate below which a
// baseline window is taken as a machine too loaded to measure.
const baselineFloor = 0.4

// cpuBounded fails when the attack window used more than attackCPUSlack
// cores above the baseline.
func cpuBounded(t *testing.T, base, att netWindow) {
	t.Helper()
	if att.cores() > base.cores()+attackCPUSlack {
		t.Errorf("CPU %.2f cores under attack, baseline %.2f: more than %.1f above it", att.cores(), base.cores(), attackCPUSlack)
	}
}

// heapBounded fails when the live heap after the attack grew by more than
// limit over the baseline's.
func heapBounded(t *testing.T, base, att netWindow, limit uint64) {
	t.Helper()
	if att.heapEnd > base.heapEnd+limit {
		t.Errorf("live heap %d MiB after the attack, %d MiB after the baseline: grew by more than %d MiB", att.heapEnd/mib, base.heapEnd/mib, limit/mib)
	}
}

// scoredOut fails unless, within grace, none of the nodes lists the
// adversary as a peer.
func scoredOut(t *testing.T, nodes []*Node, a *adversary, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(grace)
	for listedBy(nodes, a.ID()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := listedBy(nodes, a.ID()); n > 0 {
		t.Errorf("%d of %d validators still list the adversary as a peer %s after the attack", n, len(nodes), grace)
		return
	}
	t.Logf("no validator lists the adversary any more")
}

// TestAttackAlteredProposals: for every proposal it sees, the adversary
// publishes four copies with a 64-byte junk payload (the proposal's
// signature does not cover the payload). Before the fix they pass the
// gossip validator, are relayed, and use up a validator's budget of two
// executed proposals per round whenever two of them arrive before the real
// one, which it then refuses; the round times out. (The issue measured 19
// blocks in 35 s against 30 in 30 s with two copies; here two copies cost
// about a quarter of the blocks, four cost more than half: the smaller the
// copy, the likelier it wins the race with the real block.) After the fix
// a payload that is not the block its BlockID names dies at the first hop,
// its sender is penalised, and the chain keeps its pace. Unfixed, on this
// machine: the adversary kept by all four in every run; the copies must
// win a race with the real block, so the pace varies: 1.2-1.3 blocks/s
// against 3.2 (17-19 round timeouts) in three runs of four, 2.6 against
// 3.3 (7 timeouts, within the tolerance) in the fourth.
func TestAttackAlteredProposals(t *testing.T) {
	nodes := attackTestnet(t, 200)
	a := adversaryFor(t, nodes, advConfig{Log: testLogger(t).With("node", "adversary")})
	base := measureBaseline(t, nodes)
	var st attackStats
	bad0 := sumOver(nodes, "bizra_consensus_bad_proposals_total")
	att := measure(t, nodes, "altered proposals", attackWindow, func(ctx context.Context) {
		st = a.AlterProposals(ctx, 4, []int{junkRandom}, 0)
	})
	t.Logf("adversary: %s; proposals refused by the validators: %.0f", st, sumOver(nodes, "bizra_consensus_bad_proposals_total")-bad0)
	if st.Sent == 0 {
		t.Fatal("the adversary saw no proposal to alter")
	}
	keepsPace(t, base, att)
	scoredOut(t, nodes, a, scoreGrace)
	cpuBounded(t, base, att)
	heapBounded(t, base, att, 64*mib)
	sameChain(t, nodes)
}

// sumOver sums a metric over the nodes.
func sumOver(nodes []*Node, name string) float64 {
	var s float64
	for _, nd := range nodes {
		s += metricSum(nd, name, nil)
	}
	return s
}

// gossipVerdicts sums the gossip validators' verdicts on a topic over the
// nodes, by result.
func gossipVerdicts(nodes []*Node, topic string) map[string]float64 {
	out := map[string]float64{}
	for _, r := range []string{"accept", "ignore", "reject"} {
		for _, nd := range nodes {
			out[r] += metricSum(nd, "bizra_p2p_messages_total", func(l map[string]string) bool { return l["topic"] == topic && l["result"] == r })
		}
	}
	return out
}

// TestAttackReplays: the adversary republishes every consensus message it
// sees 30 times, at 200 copies a second, in fresh envelopes with another
// unsigned attempt (before wire 3: another sender index and recipient
// list), and re-wraps single votes as one-signer aggregates and
// certificates and timeouts as one-signer timeout certificates. Before the
// fix every copy is a new message: relayed network-wide, a BLS check on
// every node and a step of its core, and the sender is never penalised
// (the issue: 8 blocks in 35 s at ~170 replays a second). After it, a
// message's identity is its wire bytes without the envelope (at most four
// attempts per body), only heights near the head pass, verified bodies are
// not checked or stepped again, and certificates need a quorum at the
// first hop, so the one-signer certificates score the adversary out. Unfixed, on this machine:
// 0.1-0.3 blocks/s against baselines of 1.8-3.3, 18-19 round timeouts,
// the adversary kept by all four.
func TestAttackReplays(t *testing.T) {
	nodes := attackTestnet(t, 200)
	a := adversaryFor(t, nodes, advConfig{Log: testLogger(t).With("node", "adversary")})
	base := measureBaseline(t, nodes)
	var st attackStats
	att := measure(t, nodes, "replays", attackWindow, func(ctx context.Context) {
		st = a.Replay(ctx, 30, 200)
	})
	t.Logf("adversary: %s", st)
	for _, topic := range consensusTopics {
		t.Logf("gossip verdicts on %s: %v", topic, gossipVerdicts(nodes, topic))
	}
	if st.Sent == 0 {
		t.Fatal("the adversary replayed nothing")
	}
	keepsPace(t, base, att)
	scoredOut(t, nodes, a, scoreGrace)
	cpuBounded(t, base, att)
	heapBounded(t, base, att, 64*mib)
	sameChain(t, nodes)
}

// TestAttackInventedTopics: the adversary announces 300,000 invented
// topics to every validator in raw pubsub RPCs of 15,000 (about 420 KB:
// the pubsub library of go.mod resets a stream whose RPC carries more than
// 512 KiB of subscriptions and control, so the single 4 MiB RPC of
// ~280k topics becomes a stream of smaller ones). Before the fix GossipSub
// keeps every topic in its tables until the peer disconnects; after it, a
// subscription filter allows our topics only, so the heap stays flat. (The
// issue does not ask for the peer to be disconnected; whether it is is
// logged.) Unfixed, on this machine: the live heap of the four nodes grew
// by 385-411 MiB (about 330 bytes a topic a node), its peak to 690-830 MiB,
// and the chain made 1.0-2.5 blocks/s against 3.3.
func TestAttackInventedTopics(t *testing.T) {
	nodes := attackTestnet(t, 0)
	a := adversaryFor(t, nodes, advConfig{Raw: true, Log: testLogger(t).With("node", "adversary")})
	base := measureBaseline(t, nodes)
	var st attackStats
	att := measure(t, nodes, "invented topics", attackWindow, func(ctx context.Context) {
		st = a.AnnounceTopics(ctx, 300_000, 15_000, 100_000)
		<-ctx.Done()
	})
	t.Logf("adversary: %s; still listed by %d of %d validators", st, listedBy(nodes, a.ID()), len(nodes))
	if st.Sent == 0 {
		t.Fatal("the adversary announced nothing")
	}
	keepsPace(t, base, att)
	heapBounded(t, base, att, 32*mib)
	cpuBounded(t, base, att)
}

// TestAttackSyncFlood: one adversary that passed the handshake asks every
// validator for 256 blocks from height 1, 100 times a second with two
// requests in flight (the resource manager's limit per peer); another
// that never answers the status exchange asks 20 times a second. Before
// the fix both are served: every request reads, decodes and re-encodes up
// to 256 blocks. After it, a peer that did not pass the handshake is
// served nothing, and a peer is rate-limited: at most
// p2p.DefaultSyncServeRequests answered requests a second per validator,
// after a burst of one second's worth (an honest node syncing asks one
// peer for SyncBatch blocks at a time; the byte budgets bound what big
// blocks would cost). In this test the chain is
// short (tens of small blocks), so the amplification the issue describes
// (a 13-byte request reading ~640 MB) cannot show in memory here; the
// served rate is what is checked. Unfixed, on this machine: the peer with
// the handshake was served 14-24 requests a second by each validator
// (220-330 MiB in all), the one without it 18,000-29,000 blocks, and the
// chain made 1.1-2.3 blocks/s against 3.2-3.3.
func TestAttackSyncFlood(t *testing.T) {
	nodes := attackTestnet(t, 200)
	waitFor(t, 30*time.Second, "height 20", func() bool { h, _ := chainHeight(nodes); return h >= 20 })
	a := adversaryFor(t, nodes, advConfig{Raw: true, Log: testLogger(t).With("node", "adversary")})
	b := adversaryFor(t, nodes, advConfig{Raw: true, NoHandshake: true, Log: testLogger(t).With("node", "no-handshake")})
	base := measureBaseline(t, nodes)
	var sa, sb attackStats
	att := measure(t, nodes, "sync flood", attackWindow, func(ctx context.Context) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			sb = b.FloodSync(ctx, 1, 256, 20, 2)
		}()
		sa = a.FloodSync(ctx, 1, 256, 100, 2)
		<-done
	})
	t.Logf("with the handshake: %s", sa)
	t.Logf("without it: %s", sb)
	if sa.Sent == 0 || sb.Sent == 0 {
		t.Fatal("no sync request was sent")
	}
	keepsPace(t, base, att)
	if sb.Blocks > 0 {
		t.Errorf("a peer that never passed the status handshake was served %d blocks (%d bytes) in %d answers", sb.Blocks, sb.Bytes, sb.Served)
	}
	// The rate and its one-second burst, with a tenth for timing.
	most := 1.1 * p2p.DefaultSyncServeRequests * (1 + 1/att.dur.Seconds())
	if perNode := float64(sa.Served) / att.dur.Seconds() / float64(len(nodes)); perNode > most {
		t.Errorf("one peer was served %.1f sync requests a second by each validator (%d blocks, %d MiB in all): want at most %.0f",
			perNode, sa.Blocks, sa.Bytes/mib, most)
	}
	cpuBounded(t, base, att)
	heapBounded(t, base, att, 64*mib)
}

// TestAttackJunkTxBatches: connected to validator 0 only, the adversary
// publishes 5 transaction batches a second, in turn: 4,095 transfers
// from an account that holds nothing and one good transfer; 4,096 such
// unfunded transfers; 4,096 transfers whose signatures are out of range.
// Before the fix each unfunded transfer costs a sender recovery, a batch
// that adds nothing is ignored without penalty, and the batch with one
// good transfer is relayed whole, so validators 1-3 recover the junk too.
// After it, batches with transactions that do not decode or are badly
// signed are rejected and their sender scored down, batches are bounded at
// 512 transactions, and only admitted transactions are relayed: the other
// validators see none of the junk. Unfixed, on this machine: 0.5-0.6
// blocks/s against 3.3, 15-18 round timeouts, validators 1-3 refused
// 8,000-12,000 relayed junk transactions, and validator 0 kept the peer.
func TestAttackJunkTxBatches(t *testing.T) {
	nodes := attackTestnet(t, 200)
	a := adversaryFor(t, nodes, advConfig{Log: testLogger(t).With("node", "adversary")}, 0)
	rules := nodes[0].Chain().Rules()
	unfunded := unfundedTxs(rules, 4096, t.Name())
	bad := make([][]byte, 4096)
	for i := range bad {
		bad[i] = badlySignedTx(rules, uint64(i))
	}
	good := DevAccounts(10)[9] // not used by the honest load
	batch := func(i int) []byte {
		switch i % 3 {
		case 0:
			raws := rotated(unfunded, i)[:4095]
			return encodeTxBatch(append(raws, devTransferRaw(rules, good, good.Address, uint64(i/3))))
		case 1:
			return encodeTxBatch(rotated(unfunded, i))
		}
		return encodeTxBatch(rotated(bad, i))
	}
	junkSeen := func() float64 { // junk refused by the pools of validators 1-3
		var s float64
		for _, nd := range nodes[1:] {
			s += metricSum(nd, "bizra_mempool_rejected_total", func(l map[string]string) bool {
				return l["reason"] == "insufficient_funds" || l["reason"] == "invalid_signature"
			})
		}
		return s
	}
	base := measureBaseline(t, nodes)
	junk0 := junkSeen()
	var st attackStats
	att := measure(t, nodes, "junk transaction batches", attackWindow, func(ctx context.Context) {
		st = a.JunkTxBatches(ctx, batch, 5)
	})
	relayed := junkSeen() - junk0
	t.Logf("adversary: %s; gossip verdicts on %s: %v; junk refused by validators 1-3: %.0f", st, topicTxs, gossipVerdicts(nodes[:1], topicTxs), relayed)
	if st.Sent == 0 {
		t.Fatal("the adversary sent no batch")
	}
	keepsPace(t, base, att)
	if relayed > 0 {
		t.Errorf("validators 1-3, not connected to the adversary, refused %.0f junk transactions relayed to them", relayed)
	}
	scoredOut(t, nodes[:1], a, scoreGrace)
	cpuBounded(t, base, att)
	heapBounded(t, base, att, 64*mib)
}

// TestAttackStopReading: the adversary subscribes to every topic, asks to
// join every mesh, and then never reads what the validators send it, while
// they carry 500 transfers a second. Before the fix each validator queues
// up to 1,024 messages for it, of up to 4 MiB each, and keeps the peer;
// after it, a peer's queue has a byte budget and a peer whose queue stays
// full is disconnected. The messages of this testnet are small (batches
// of a few transfers, blocks of ~150), so the memory the queues pin here
// is a few MiB, not the 4 GiB a validator could pin per peer with full
// messages, and a queue of 1,024 takes some 15 s to fill; what is checked
// is that the peer is dropped within stallGrace of the window (it keeps
// not reading meanwhile) and the heap stays bounded. Unfixed, on this
// machine: the chain kept its pace, the heap grew by about 11 MiB, and all
// four kept the peer 20 s after the window.
func TestAttackStopReading(t *testing.T) {
	nodes := attackTestnet(t, 500)
	a := adversaryFor(t, nodes, advConfig{Raw: true, Log: testLogger(t).With("node", "adversary")})
	base := measureBaseline(t, nodes)
	var st attackStats
	att := measure(t, nodes, "stop reading", attackWindow, func(ctx context.Context) {
		st = a.StopReading(ctx)
	})
	t.Logf("adversary: %s (pubsub streams held unread)", st)
	var dropped float64
	for _, nd := range nodes {
		dropped += metricSum(nd, "bizra_p2p_dropped_total", nil)
	}
	t.Logf("messages dropped for slow readers (our topics' channels): %.0f", dropped)
	keepsPace(t, base, att)
	scoredOut(t, nodes, a, stallGrace)
	heapBounded(t, base, att, 64*mib)
	cpuBounded(t, base, att)
}

// TestAttackExternal attacks a testnet running in other processes (`bizra
// testnet init` and `start`, as scripts/attack-bench.sh does): it reads
// the genesis and the nodes' addresses from the testnet directory in
// BIZRA_ATTACK_HOME, runs the attack BIZRA_ATTACK (none, proposals,
// replay, topics, sync, txs, stall) for BIZRA_ATTACK_DURATION (30s) at the
// harness's highest rates from one peer, and prints the chain's blocks,
// mean interval and committed transactions a second over the attack, read
// from node 0's JSON-RPC, as one JSON line prefixed "attack-result".
func TestAttackExternal(t *testing.T) {
	dir := os.Getenv("BIZRA_ATTACK_HOME")
	if dir == "" {
		t.Skip("attacks a running testnet: set BIZRA_ATTACK_HOME to its directory and BIZRA_ATTACK to the attack (see scripts/attack-bench.sh)")
	}
	kind := os.Getenv("BIZRA_ATTACK")
	if kind == "" {
		kind = "none"
	}
	dur := 30 * time.Second
	if s := os.Getenv("BIZRA_ATTACK_DURATION"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatalf("BIZRA_ATTACK_DURATION: %v", err)
		}
	}
	ext := loadExternal(t, dir)
	cfg := advConfig{
		ChainID: ext.genesis.ChainID, Genesis: ext.genesis.Hash(), Validators: len(ext.genesis.Validators),
		Targets: ext.addrs, Raw: kind == "topics" || kind == "stall" || kind == "sync",
	}
	a := newAdversary(t, cfg)
	waitFor(t, 30*time.Second, "every node to accept the adversary", a.accepted)
	client := rpc.NewClient(ext.rpcs[0], 1)
	h0 := externalHeight(t, client)
	cpu0 := externalMetric(ext.metrics, "process_cpu_seconds_total")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var st attackStats
	switch kind {
	case "none":
		<-ctx.Done()
	case "proposals":
		st = a.AlterProposals(ctx, 4, []int{junkRandom}, 0)
	case "replay":
		st = a.Replay(ctx, 30, 0)
	case "topics":
		st = a.AnnounceTopics(ctx, 2_000_000, 15_000, 0)
		<-ctx.Done()
	case "sync":
		st = a.FloodSync(ctx, 1, 256, 0, 2)
	case "txs":
		rules := ext.genesis.Rules()
		unfunded := unfundedTxs(rules, 4096, t.Name())
		st = a.JunkTxBatches(ctx, func(i int) []byte { return encodeTxBatch(rotated(unfunded, i)) }, 0)
	case "stall":
		st = a.StopReading(ctx)
	default:
		t.Fatalf("BIZRA_ATTACK=%q: want none, proposals, replay, topics, sync, txs or stall", kind)
	}
	<-ctx.Done()
	elapsed := time.Since(start)
	h1 := externalHeight(t, client)
	cpu1 := externalMetric(ext.metrics, "process_cpu_seconds_total")
	rss := externalMetric(ext.metrics, "process_resident_memory_bytes")
	var cores, rssMiB []float64
	for i := range cpu1 {
		cores = append(cores, (cpu1[i]-cpu0[i])/elapsed.Seconds())
		rssMiB = append(rssMiB, rss[i]/mib)
	}
	txs := 0
	for h := h0 + 1; h <= h1; h++ {
		var n hexutil.Uint64
		if err := client.Call(context.Background(), &n, "eth_getBlockTransactionCountByNumber", hexutil.Uint64(h)); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		txs += int(n)
	}
	res := map[string]any{
		"attack": kind, "seconds": elapsed.Seconds(), "blocks": h1 - h0,
		"interval_ms":        elapsed.Seconds() * 1000 / float64(max(1, h1-h0)),
		"committed_tx_per_s": float64(txs) / elapsed.Seconds(),
		"connected_to":       a.connectedTo(), "nodes": len(ext.addrs),
		"cpu_cores_per_node": cores, "rss_mib_per_node": rssMiB,
		"sent": st.Sent, "used": st.Used, "errors": st.Errors, "served": st.Served, "blocks_served": st.Blocks,
	}
	line, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("attack-result %s\n", line)
}

// external is a testnet running in other processes.
type external struct {
	genesis *chain.Genesis
	addrs   []string // TCP multiaddrs with /p2p/<id>
	rpcs    []string // JSON-RPC URLs
	metrics []string // Prometheus endpoints
}

// externalMetric reads an unlabelled metric from every node's endpoint
// (-1 where it cannot).
func externalMetric(endpoints []string, name string) []float64 {
	out := make([]float64, len(endpoints))
	for i, u := range endpoints {
		out[i] = -1
		resp, err := http.Get(u)
		if err != nil {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(body), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == name {
				out[i], _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	return out
}

// loadExternal reads the homes of a `bizra testnet init` directory (one
// subdirectory per node).
func loadExternal(t *testing.T, dir string) external {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ext external
	for _, e := range entries {
		home := filepath.Join(dir, e.Name())
		if !e.IsDir() || !IsHome(home) {
			continue
		}
		cfg, err := LoadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		if ext.genesis == nil {
			if ext.genesis, err = chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile)); err != nil {
				t.Fatal(err)
			}
		}
		key, err := LoadNodeKey(cfg.Path(cfg.P2P.NodeKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		sk, err := lcrypto.UnmarshalEd25519PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range cfg.P2P.ListenAddrs {
			if strings.Contains(l, "/tcp/") {
				ext.addrs = append(ext.addrs, l+"/p2p/"+id.String())
				break
			}
		}
		ext.rpcs = append(ext.rpcs, "http://"+cfg.RPC.ListenAddr)
		ext.metrics = append(ext.metrics, "http://"+cfg.Metrics.ListenAddr+"/metrics")
	}
	if ext.genesis == nil || len(ext.addrs) == 0 {
		t.Fatalf("%s holds no node home", dir)
	}
	return ext
}

func externalHeight(t *testing.T, c *rpc.Client) uint64 {
	t.Helper()
	var h hexutil.Uint64
	if err := c.Call(context.Background(), &h, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	return uint64(h)
}

// In-process testnets.

// adversaryFor starts an adversary against nodes of an in-process testnet
// (all of them, or those at the given indexes) and, unless it skips the
// handshake, waits until every target lists it as a peer.
func adversaryFor(t *testing.T, nodes []*Node, cfg advConfig, targets ...int) *adversary {
	t.Helper()
	g := nodes[0].genesis
	cfg.ChainID, cfg.Genesis, cfg.Validators = g.ChainID, g.Hash(), len(g.Validators)
	if len(targets) == 0 {
		for i := range nodes {
			targets = append(targets, i)
		}
	}
	var picked []*Node
	for _, i := range targets {
		cfg.Targets = append(cfg.Targets, nodes[i].P2PAddrs()[0])
		picked = append(picked, nodes[i])
	}
	a := newAdversary(t, cfg)
	if !cfg.NoHandshake {
		waitFor(t, 30*time.Second, "every target to accept the adversary", func() bool { return listedBy(picked, a.ID()) == len(picked) })
	}
	return a
}

// listedBy counts the nodes that list id among their peers: connected and
// past the status handshake.
func listedBy(nodes []*Node, id string) int {
	n := 0
	for _, nd := range nodes {
		if slices.ContainsFunc(hostOf(nd).Peers(), func(p p2p.PeerInfo) bool { return p.ID == id }) {
			n++
		}
	}
	return n
}

// metricSum sums a metric's samples on a node (counters and gauges), those
// whose labels match (nil: all).
func metricSum(nd *Node, name string, match func(labels map[string]string) bool) float64 {
	mfs, err := nd.reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if match != nil && !match(labels) {
				continue
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// chainHeight is the highest head among the nodes: how far the chain got.
func chainHeight(nodes []*Node) (uint64, *Node) {
	best := nodes[0]
	for _, nd := range nodes[1:] {
		if heightOf(nd) > heightOf(best) {
			best = nd
		}
	}
	return heightOf(best), best
}

// netWindow is what an in-process testnet did over a stretch of time.
type netWindow struct {
	name     string
	dur      time.Duration
	blocks   uint64        // heights the chain advanced
	txs      int           // transactions in those blocks
	timeouts float64       // round timeouts broadcast, all validators together
	cpu      time.Duration // this process's CPU: every node, the adversary and the load
	heapPeak uint64        // heap in use at its highest (sampled)
	heapEnd  uint64        // live heap after a collection at the end
}

func (w netWindow) blocksPerSec() float64 { return float64(w.blocks) / w.dur.Seconds() }
func (w netWindow) cores() float64        { return w.cpu.Seconds() / w.dur.Seconds() }

func (w netWindow) String() string {
	return fmt.Sprintf("%s: %d blocks in %.1f s (%.2f/s, mean interval %s), %.0f tx/s committed, %.0f round timeouts, CPU %.2f cores, heap peak %d MiB, live after GC %d MiB",
		w.name, w.blocks, w.dur.Seconds(), w.blocksPerSec(), w.interval().Round(time.Millisecond), float64(w.txs)/w.dur.Seconds(),
		w.timeouts, w.cores(), w.heapPeak/mib, w.heapEnd/mib)
}

func (w netWindow) interval() time.Duration {
	if w.blocks == 0 {
		return w.dur
	}
	return w.dur / time.Duration(w.blocks)
}

// measure runs during (nil: nothing) for d on the testnet and returns what
// the testnet did meanwhile. during must return soon after its context
// ends.
func measure(t *testing.T, nodes []*Node, name string, d time.Duration, during func(ctx context.Context)) netWindow {
	t.Helper()
	timeouts := func() float64 {
		var s float64
		for _, nd := range nodes {
			s += metricSum(nd, "bizra_consensus_timeouts_total", nil)
		}
		return s
	}
	h0, _ := chainHeight(nodes)
	to0, cpu0 := timeouts(), processCPU()
	hs := sampleHeap(100 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if during != nil {
			during(ctx)
		}
	}()
	<-ctx.Done()
	h1, best := chainHeight(nodes)
	w := netWindow{name: name, dur: time.Since(start), blocks: h1 - h0, cpu: processCPU() - cpu0, timeouts: timeouts() - to0}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s: the attack did not stop within 30 s of its end", name)
	}
	w.heapPeak = hs.Stop()
	w.heapEnd = heapAfterGC()
	for h := h0 + 1; h <= h1; h++ {
		if blk, err := best.store.Block(h); err == nil {
			w.txs += len(blk.Txs)
		}
	}
	t.Log(w)
	return w
}

// honestLoad submits signed transfers from dev accounts at a steady rate,
// each account through one node as a wallet would, and the way JSON-RPC's
// eth_sendRawTransaction does: admitted into the node's pool, then
// gossiped.
type honestLoad struct {
	cancel    context.CancelFunc
	done      chan struct{}
	submitted atomic.Int64
	refused   atomic.Int64
}

// loadWindow is how many transactions an account may have in flight.
const loadWindow = 256

func startHonestLoad(t *testing.T, nodes []*Node, rate int, accounts []DevAccount) *honestLoad {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &honestLoad{cancel: cancel, done: make(chan struct{})}
	t.Cleanup(l.stop)
	rules := nodes[0].Chain().Rules()
	type acct struct {
		next, committed uint64
		since           time.Time
	}
	state := make([]acct, len(accounts))
	go func() {
		defer close(l.done)
		const tick = 20 * time.Millisecond
		perTick := max(1, rate*int(tick)/int(time.Second))
		t0 := time.NewTicker(tick)
		defer t0.Stop()
		sender, lastRefresh := 0, time.Time{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t0.C:
			}
			now := time.Now()
			if now.Sub(lastRefresh) > 200*time.Millisecond {
				lastRefresh = now
				for i, a := range accounts {
					st := &state[i]
					c, err := nodes[i%len(nodes)].Chain().Account(a.Address)
					if err != nil {
						continue
					}
					if c.Nonce != st.committed || st.since.IsZero() {
						st.committed, st.since = c.Nonce, now
					}
					if st.next < c.Nonce || (st.next > c.Nonce && now.Sub(st.since) > 3*time.Second) {
						st.next, st.since = c.Nonce, now // a transfer was lost: resend from the committed nonce
					}
				}
			}
			for range perTick {
				i := sender % len(accounts)
				sender++
				st := &state[i]
				if st.next-st.committed >= loadWindow {
					continue
				}
				nd := nodes[i%len(nodes)]
				raw := devTransferRaw(rules, accounts[i], accounts[(i+1)%len(accounts)].Address, st.next)
				_, err := rpcPool{nd.pool, nd.net, nd.journal}.Add(raw)
				switch {
				case err == nil:
					st.next++
					l.submitted.Add(1)
				case errors.Is(err, mempool.ErrAlreadyKnown):
					st.next++
				default:
					l.refused.Add(1)
				}
			}
		}
	}()
	return l
}

func (l *honestLoad) stop() {
	l.cancel()
	<-l.done
}
