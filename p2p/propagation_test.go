package p2p

// The gossip propagation simulation: real GossipSub routers over
// go-libp2p's in-memory network, measuring how long a message takes to reach
// 50 %, 99 %, 99.9 % and all of the nodes, against the design document's
// estimate log(N)/log(fan-out) × hop latency.
//
// Topology. Nodes have ed25519 keys drawn from a seeded source and are
// placed round-robin in three regions. One-way link latencies are 5 ms
// within a region, 40 ms us-east↔eu-west, 110 ms us-east↔ap and 150 ms
// eu-west↔ap. The connection graph is a random ring (so it is connected)
// topped up with random links until every node has at least minPeers and
// no node more than maxPeers connections (12 and 20): about 13 peers a node,
// not a full mesh. Links carry latency only, no bandwidth limit.
//
// Gossip. Every node runs GossipSub with GossipConfig.Params (D 6, Dlo 5,
// Dhi 12, Dlazy 6, 100 ms heartbeat), strict signing, peer exchange off
// and flood publishing off: the node's own host does not turn flood
// publishing on, and this version of the library leaves it off by default,
// so the origin sends to its mesh like everyone else. Peer scoring is off.
// Publishing starts once every node's mesh has at least Dlo peers.
//
// Time dilation. Link latencies and every GossipSub duration (heartbeat,
// backoffs, timeouts) are multiplied by the dilation factor, and measured
// times are divided by it. The CPU work per message stays the same while
// the network time grows, so time spent waiting for one of the machine's
// cores is a smaller share of what is reported. A run that is still
// distorted shows itself in the per-hop excess.
//
// The formula. hops = ⌈ln N / ln FanOut⌉ (rounded up: a hop is whole), and
// the hop latency is the mean one-way latency over the links of the
// generated connection graph (about 68 ms with three equal regions). The
// design document priced a hop at one gossip interval (100 ms) and did not
// round; both are printed.
//
// Excess. excess_per_hop = (p99.9 − hops × mean link latency) / hops, the
// time beyond link latency per formula hop. The simulation also follows
// every delivery to the peer it came from (Message.ReceivedFrom) and
// reports, per delivery, arrival − parent's arrival − that link's latency:
// the processing and queueing a hop really cost (large for the few
// deliveries repaired by IHAVE/IWANT, which wait for a heartbeat).

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

var (
	propDilation = flag.Int("propagation.dilation", 0, "propagation simulation: time dilation factor (0: the benchmark's default)")
	propFlood    = flag.Bool("propagation.flood", false, "propagation simulation: flood publishing at the origin")
	propMessages = flag.Int("propagation.messages", 0, "propagation simulation: messages a run (0: the default)")
	propSeed     = flag.Uint64("propagation.seed", 1, "propagation simulation: seed for keys, topology and origins")
	propFanOut   = flag.Int("propagation.fanout", 0, "propagation simulation: GossipConfig.FanOut (0: the default)")
)

// simRegion is one of the simulation's regions.
type simRegion int

const (
	usEast simRegion = iota
	euWest
	asiaPacific
	numRegions
)

var regionNames = [numRegions]string{"us-east", "eu-west", "ap"}

// regionLatency is the one-way latency between two regions, before
// dilation.
var regionLatency = [numRegions][numRegions]time.Duration{
	usEast:      {usEast: 5 * time.Millisecond, euWest: 40 * time.Millisecond, asiaPacific: 110 * time.Millisecond},
	euWest:      {usEast: 40 * time.Millisecond, euWest: 5 * time.Millisecond, asiaPacific: 150 * time.Millisecond},
	asiaPacific: {usEast: 110 * time.Millisecond, euWest: 150 * time.Millisecond, asiaPacific: 5 * time.Millisecond},
}

// propagationSpec describes one simulation run.
type propagationSpec struct {
	Nodes int
	// MinPeers and MaxPeers bound each node's connections.
	MinPeers, MaxPeers int
	// Dilation multiplies latencies and GossipSub's durations; results
	// are divided by it.
	Dilation int
	// Messages are published one after another from random origins, each
	// once the previous one has reached every node.
	Messages int
	// PayloadBytes is at least 256: mocknet holds back smaller writes
	// until a stream has been quiet for a link latency, which would add
	// delay that a real link does not have.
	PayloadBytes int
	FloodPublish bool
	Gossip       GossipConfig
	Seed         uint64
}

func defaultPropagationSpec(nodes int) propagationSpec {
	s := propagationSpec{
		Nodes:        nodes,
		MinPeers:     12,
		MaxPeers:     20,
		Dilation:     4,
		Messages:     5,
		PayloadBytes: 512,
		FloodPublish: *propFlood,
		Gossip:       DefaultGossipConfig(),
		Seed:         *propSeed,
	}
	if *propDilation > 0 {
		s.Dilation = *propDilation
	}
	if *propMessages > 0 {
		s.Messages = *propMessages
	}
	if *propFanOut > 0 {
		s.Gossip.FanOut = *propFanOut
	}
	return s
}

// propagationResult holds a run's measurements, in undilated time.
type propagationResult struct {
	Seed            uint64
	Dilation        int
	Nodes, Links    int
	MeanLinkLatency time.Duration
	// Hops is ⌈ln N / ln FanOut⌉ and Formula is Hops × MeanLinkLatency.
	Hops    int
	Formula time.Duration
	// DocFormula is the design document's version: ln N / ln FanOut ×
	// GossipInterval, not rounded.
	DocFormula time.Duration
	// P50 … P100 are the times to reach that share of the nodes, the mean
	// over the messages; Worst is the slowest message's P100.
	P50, P99, P999, P100, Worst time.Duration
	// ExcessPerHop is (P999 − Hops × MeanLinkLatency) / Hops.
	ExcessPerHop time.Duration
	// DepthMean and DepthMax describe the delivery trees: how many hops
	// a message really took to each node.
	DepthMean float64
	DepthMax  int
	// EdgeExcessP50 and EdgeExcessP99 are quantiles, over all deliveries,
	// of arrival − parent's arrival − link latency.
	EdgeExcessP50, EdgeExcessP99 time.Duration
	// CPUBusy is the share of the Go scheduler's CPU time (GOMAXPROCS ×
	// wall time) that was not idle while messages were in flight: near 1,
	// the nodes were waiting for the CPU and the times are inflated.
	CPUBusy float64
	// DroppedRPC counts RPCs dropped on a full outbound queue and Rejected
	// messages refused by GossipSub (a full validation queue, for one).
	DroppedRPC, Rejected int64
	// Missing counts (node, message) pairs never delivered; they count as
	// arriving at the timeout in the quantiles.
	Missing int
	// HeapMB and StackMB are the heap and the goroutine stacks in use once
	// the network is built and meshed (mocknet runs a few goroutines a
	// stream, so stacks weigh as much as the heap).
	HeapMB, StackMB float64
	// Build and Mesh are the wall-clock times to build the network and to
	// form the meshes.
	Build, Mesh time.Duration
}

func (r propagationResult) String() string {
	return fmt.Sprintf("seed=%d dilation=%d nodes=%d links=%d mean_link=%.1fms hops=%d formula=%.1fms (doc %.1fms) "+
		"p50=%.1fms p99=%.1fms p99.9=%.1fms p100=%.1fms worst=%.1fms ratio_p999=%.2f excess_per_hop=%.1fms "+
		"depth_mean=%.2f depth_max=%d edge_excess_p50=%.1fms edge_excess_p99=%.1fms cpu_busy=%.2f dropped_rpc=%d rejected=%d missing=%d heap=%.0fMB stacks=%.0fMB build=%s mesh=%s",
		r.Seed, r.Dilation, r.Nodes, r.Links, ms(r.MeanLinkLatency), r.Hops, ms(r.Formula), ms(r.DocFormula),
		ms(r.P50), ms(r.P99), ms(r.P999), ms(r.P100), ms(r.Worst), r.Ratio(), ms(r.ExcessPerHop),
		r.DepthMean, r.DepthMax, ms(r.EdgeExcessP50), ms(r.EdgeExcessP99), r.CPUBusy, r.DroppedRPC, r.Rejected, r.Missing, r.HeapMB, r.StackMB,
		r.Build.Round(time.Millisecond), r.Mesh.Round(time.Millisecond))
}

// Ratio is P999 / Formula.
func (r propagationResult) Ratio() float64 { return float64(r.P999) / float64(r.Formula) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// arrival is one node's first delivery of one message.
type arrival struct {
	at   atomic.Int64 // since the run's base time, dilated; 0 until delivered
	from atomic.Int32 // index of the peer it came from
}

// meshTracer counts one node's mesh peers in the simulation's topic, and
// the run's dropped and rejected messages in stats.
type meshTracer struct {
	topic string
	stats *gossipStats
	mu    sync.Mutex
	mesh  map[peer.ID]struct{} // a set: GossipSub may trace a PRUNE for a peer not in the mesh
}

// gossipStats counts events that slow propagation down: RPCs dropped on a
// full outbound queue and messages rejected (the validation queue full,
// for one) or not delivered to a slow subscriber.
type gossipStats struct {
	droppedRPC    atomic.Int64
	rejected      atomic.Int64
	undeliverable atomic.Int64
	mu            sync.Mutex
	reasons       map[string]int
}

func (t *meshTracer) Graft(p peer.ID, topic string) {
	if topic == t.topic {
		t.mu.Lock()
		t.mesh[p] = struct{}{}
		t.mu.Unlock()
	}
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	if topic == t.topic {
		t.mu.Lock()
		delete(t.mesh, p)
		t.mu.Unlock()
	}
}

func (*meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*meshTracer) OnClosedOutboundStream(peer.ID)                       {}
func (*meshTracer) Join(string)                                          {}
func (*meshTracer) Leave(string)                                         {}
func (*meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (*meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (*meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (*meshTracer) ThrottlePeer(peer.ID)                                 {}
func (*meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (*meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (*meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}

func (t *meshTracer) RejectMessage(_ *pubsub.Message, reason string) {
	t.stats.rejected.Add(1)
	t.stats.mu.Lock()
	t.stats.reasons[reason]++
	t.stats.mu.Unlock()
}

func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)         { t.stats.droppedRPC.Add(1) }
func (t *meshTracer) UndeliverableMessage(*pubsub.Message) { t.stats.undeliverable.Add(1) }

func (t *meshTracer) meshSize() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mesh)
}

var _ pubsub.RawTracer = (*meshTracer)(nil)

// dilateParams multiplies every duration in p by k.
func dilateParams(p pubsub.GossipSubParams, k int) pubsub.GossipSubParams {
	d := time.Duration(k)
	p.HeartbeatInitialDelay *= d
	p.HeartbeatInterval *= d
	p.FanoutTTL *= d
	p.PruneBackoff *= d
	p.UnsubscribeBackoff *= d
	p.ConnectionTimeout *= d
	p.DirectConnectInitialDelay *= d
	p.GraftFloodThreshold *= d
	p.IWantFollowupTime *= d
	return p
}

// propagationGraph is the connection graph: regions and adjacency.
type propagationGraph struct {
	region []simRegion
	adj    [][]int
	edges  [][2]int
}

// buildGraph draws a connected graph where every node has between minPeers
// and maxPeers neighbours (fewer than minPeers only when no peer with room
// is left).
func buildGraph(rng *rand.Rand, n, minPeers, maxPeers int) propagationGraph {
	g := propagationGraph{region: make([]simRegion, n), adj: make([][]int, n)}
	linked := make(map[[2]int]bool)
	link := func(a, b int) bool {
		if a == b || len(g.adj[a]) >= maxPeers || len(g.adj[b]) >= maxPeers {
			return false
		}
		k := [2]int{min(a, b), max(a, b)}
		if linked[k] {
			return false
		}
		linked[k] = true
		g.adj[a] = append(g.adj[a], b)
		g.adj[b] = append(g.adj[b], a)
		g.edges = append(g.edges, k)
		return true
	}
	for i := range n {
		g.region[i] = simRegion(i % int(numRegions))
	}
	perm := rng.Perm(n)
	for i := range n {
		link(perm[i], perm[(i+1)%n])
	}
	for _, a := range perm {
		for tries := 0; len(g.adj[a]) < minPeers && tries < 50*maxPeers; tries++ {
			link(a, rng.IntN(n))
		}
	}
	return g
}

func (g propagationGraph) latency(a, b int) time.Duration {
	return regionLatency[g.region[a]][g.region[b]]
}

// runPropagation builds the network, publishes spec.Messages messages and
// measures their propagation. It closes everything it started before it
// returns.
func runPropagation(ctx context.Context, tb testing.TB, spec propagationSpec) (propagationResult, error) {
	res := propagationResult{Seed: spec.Seed, Dilation: spec.Dilation, Nodes: spec.Nodes}
	if spec.Nodes < 2 || spec.Dilation < 1 || spec.Messages < 1 || spec.PayloadBytes < 256 {
		return res, fmt.Errorf("bad propagation spec %+v", spec)
	}
	if errs := spec.Gossip.validate(); len(errs) > 0 {
		return res, fmt.Errorf("bad gossip config: %v", errs)
	}
	n, k := spec.Nodes, spec.Dilation
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6b1a))
	var keySeed [32]byte
	binary.BigEndian.PutUint64(keySeed[:], spec.Seed)
	keys := rand.NewChaCha8(keySeed)

	ctx, cancel := context.WithCancel(ctx)
	mn := mocknet.New()
	var readers sync.WaitGroup
	defer func() {
		cancel()
		readers.Wait()
		mn.Close()
	}()

	start := time.Now()
	g := buildGraph(rng, n, spec.MinPeers, spec.MaxPeers)
	res.Links = len(g.edges)
	var sum time.Duration
	for _, e := range g.edges {
		sum += g.latency(e[0], e[1])
	}
	res.MeanLinkLatency = sum / time.Duration(len(g.edges))
	logN := math.Log(float64(n)) / math.Log(float64(spec.Gossip.FanOut))
	res.Hops = int(math.Ceil(logN))
	res.Formula = time.Duration(res.Hops) * res.MeanLinkLatency
	res.DocFormula = time.Duration(logN * float64(spec.Gossip.GossipInterval))

	const topicName = "/bizra/propagation/1/sim"
	params := dilateParams(spec.Gossip.Params(), k)
	ids := make([]peer.ID, n)
	index := make(map[peer.ID]int, n)
	topics := make([]*pubsub.Topic, n)
	tracers := make([]*meshTracer, n)
	arrivals := make([][]arrival, spec.Messages)
	counts := make([]atomic.Int32, spec.Messages)
	done := make([]chan struct{}, spec.Messages)
	for m := range arrivals {
		arrivals[m] = make([]arrival, n)
		done[m] = make(chan struct{})
	}
	stats := gossipStats{reasons: make(map[string]int)}
	base := time.Now()

	for i := range n {
		sk, _, err := crypto.GenerateEd25519Key(keys)
		if err != nil {
			return res, err
		}
		addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/10.%d.%d.%d/tcp/4001", i>>16&0xff, i>>8&0xff, i&0xff))
		if err != nil {
			return res, err
		}
		h, err := mn.AddPeer(sk, addr)
		if err != nil {
			return res, fmt.Errorf("add peer %d: %w", i, err)
		}
		ids[i] = h.ID()
		index[h.ID()] = i
	}
	for i := range n {
		tracers[i] = &meshTracer{topic: topicName, stats: &stats, mesh: make(map[peer.ID]struct{})}
		ps, err := pubsub.NewGossipSub(ctx, mn.Host(ids[i]),
			pubsub.WithGossipSubParams(params),
			pubsub.WithFloodPublish(spec.FloodPublish),
			pubsub.WithPeerExchange(false),
			pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
			pubsub.WithRawTracer(tracers[i]),
		)
		if err != nil {
			return res, fmt.Errorf("gossipsub %d: %w", i, err)
		}
		t, err := ps.Join(topicName)
		if err != nil {
			return res, err
		}
		sub, err := t.Subscribe()
		if err != nil {
			return res, err
		}
		topics[i] = t
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				msg, err := sub.Next(ctx)
				if err != nil {
					return
				}
				at := int64(time.Since(base))
				if len(msg.Data) < 4 {
					continue
				}
				m := int(binary.BigEndian.Uint32(msg.Data))
				if m >= spec.Messages {
					continue
				}
				a := &arrivals[m][i]
				if a.at.Load() != 0 {
					continue
				}
				from, ok := index[msg.ReceivedFrom]
				if !ok {
					from = i
				}
				a.from.Store(int32(from))
				a.at.Store(at)
				if counts[m].Add(1) == int32(n) {
					close(done[m])
				}
			}
		}()
	}
	for _, e := range g.edges {
		l, err := mn.LinkPeers(ids[e[0]], ids[e[1]])
		if err != nil {
			return res, err
		}
		l.SetOptions(mocknet.LinkOptions{Latency: g.latency(e[0], e[1]) * time.Duration(k)})
		if _, err := mn.ConnectPeers(ids[e[0]], ids[e[1]]); err != nil {
			return res, fmt.Errorf("connect %d-%d: %w", e[0], e[1], err)
		}
	}
	res.Build = time.Since(start)

	// Wait for every mesh to reach Dlo, checking once a heartbeat.
	start = time.Now()
	tick := time.NewTicker(params.HeartbeatInterval)
	defer tick.Stop()
	meshDeadline := time.NewTimer(60*params.HeartbeatInterval + time.Duration(n)*10*time.Millisecond)
	defer meshDeadline.Stop()
	for {
		short := 0
		for _, t := range tracers {
			if t.meshSize() < params.Dlo {
				short++
			}
		}
		if short == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-meshDeadline.C:
			for i, t := range tracers {
				if t.meshSize() < params.Dlo {
					tb.Logf("propagation: node %d: %d connections, %d topic peers, %d mesh peers",
						i, len(g.adj[i]), len(topics[i].ListPeers()), t.meshSize())
				}
			}
			return res, fmt.Errorf("%d of %d nodes have fewer than %d mesh peers after %s", short, n, params.Dlo, time.Since(start))
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.Mesh = time.Since(start)
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	res.HeapMB = float64(mem.HeapInuse) / (1 << 20)
	res.StackMB = float64(mem.StackInuse) / (1 << 20)
	tb.Logf("propagation: %d nodes, %d links built in %s, meshes formed in %s, heap %.0f MB, stacks %.0f MB, %d goroutines",
		n, len(g.edges), res.Build.Round(time.Millisecond), res.Mesh.Round(time.Millisecond), res.HeapMB, res.StackMB, runtime.NumGoroutine())

	// Publish one message at a time.
	idle0, total0 := cpuSeconds()
	msgTimeout := 2*spec.Gossip.MaxAge()*time.Duration(k) + 5*time.Second
	origins := make([]int, spec.Messages)
	pubAt := make([]time.Duration, spec.Messages)
	payload := make([]byte, spec.PayloadBytes)
	for m := range spec.Messages {
		origins[m] = rng.IntN(n)
		binary.BigEndian.PutUint32(payload, uint32(m))
		for j := 4; j < len(payload); j++ {
			payload[j] = byte(rng.Uint32())
		}
		pubAt[m] = time.Since(base)
		if err := topics[origins[m]].Publish(ctx, slices.Clone(payload)); err != nil {
			return res, fmt.Errorf("publish %d: %w", m, err)
		}
		timer := time.NewTimer(msgTimeout)
		select {
		case <-done[m]:
		case <-timer.C:
			tb.Logf("propagation: message %d reached %d of %d nodes in %s", m, counts[m].Load(), n, msgTimeout)
		case <-ctx.Done():
			timer.Stop()
			return res, ctx.Err()
		}
		timer.Stop()
	}

	idle1, total1 := cpuSeconds()
	if total1 > total0 {
		res.CPUBusy = 1 - (idle1-idle0)/(total1-total0)
	}
	res.DroppedRPC, res.Rejected = stats.droppedRPC.Load(), stats.rejected.Load()
	if res.Rejected > 0 || stats.undeliverable.Load() > 0 {
		stats.mu.Lock()
		tb.Logf("propagation: rejected %v, %d undeliverable", stats.reasons, stats.undeliverable.Load())
		stats.mu.Unlock()
	}

	// Measure, in undilated time.
	var p50, p99, p999, p100 time.Duration
	var excess []time.Duration
	depthSum, depthCount := 0, 0
	times := make([]time.Duration, n)
	parents := make([]int, n)
	depth := make([]int, n)
	for m := range spec.Messages {
		o := origins[m]
		for i := range n {
			a := &arrivals[m][i]
			at := a.at.Load()
			switch {
			case i == o:
				times[i], parents[i] = 0, o
			case at == 0:
				// Never delivered: counted at the timeout, so that the
				// quantiles it reaches show at least that.
				times[i], parents[i] = msgTimeout/time.Duration(k), -1
				res.Missing++
			default:
				times[i] = (time.Duration(at) - pubAt[m]) / time.Duration(k)
				parents[i] = int(a.from.Load())
			}
			depth[i] = -1
		}
		depth[o] = 0
		for i := range n {
			d := treeDepth(i, parents, depth)
			if d > 0 {
				depthSum += d
				depthCount++
				res.DepthMax = max(res.DepthMax, d)
			}
			if p := parents[i]; i != o && p >= 0 && (p == o || arrivals[m][p].at.Load() != 0) {
				excess = append(excess, times[i]-times[p]-g.latency(p, i))
			}
		}
		sorted := slices.Clone(times)
		slices.Sort(sorted)
		q := func(f float64) time.Duration {
			return sorted[int(math.Ceil(f*float64(n)))-1]
		}
		res.Worst = max(res.Worst, q(1))
		p50 += q(0.5)
		p99 += q(0.99)
		p999 += q(0.999)
		p100 += q(1)
		tb.Logf("propagation: message %d from node %d (%s): p50 %.1fms p99 %.1fms p99.9 %.1fms p100 %.1fms",
			m, o, regionNames[g.region[o]], ms(q(0.5)), ms(q(0.99)), ms(q(0.999)), ms(q(1)))
	}
	msgs := time.Duration(spec.Messages)
	res.P50, res.P99, res.P999, res.P100 = p50/msgs, p99/msgs, p999/msgs, p100/msgs
	res.ExcessPerHop = (res.P999 - time.Duration(res.Hops)*res.MeanLinkLatency) / time.Duration(res.Hops)
	if depthCount > 0 {
		res.DepthMean = float64(depthSum) / float64(depthCount)
	}
	if len(excess) > 0 {
		slices.Sort(excess)
		res.EdgeExcessP50 = excess[len(excess)/2]
		res.EdgeExcessP99 = excess[min(len(excess)-1, len(excess)*99/100)]
	}
	return res, nil
}

// cpuSeconds returns the runtime's estimates of idle and total CPU time
// available to Go so far. The runtime brings them up to date at a garbage
// collection, so it forces one.
func cpuSeconds() (idle, total float64) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/cpu/classes/idle:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(samples)
	if samples[0].Value.Kind() != metrics.KindFloat64 || samples[1].Value.Kind() != metrics.KindFloat64 {
		return 0, 0
	}
	return samples[0].Value.Float64(), samples[1].Value.Float64()
}

// treeDepth is node i's distance from the origin in a message's delivery
// tree, or -1 when the chain of parents does not reach the origin.
func treeDepth(i int, parents, depth []int) int {
	var chain []int
	for depth[i] == -1 {
		p := parents[i]
		if p < 0 || p == i || len(chain) > len(parents) {
			depth[i] = -2
			break
		}
		chain = append(chain, i)
		i = p
	}
	d := depth[i]
	for j := len(chain) - 1; j >= 0; j-- {
		if d >= 0 {
			d++
		}
		depth[chain[j]] = d
	}
	if d < 0 {
		return -1
	}
	return d
}

// TestPropagationSmall runs the simulation at CI size and checks that every
// node receives every message and that 99 % coverage stays within three
// times the formula. A run that fails while the per-hop excess shows the
// CPU was the bottleneck (the machine busy with other work) is repeated
// once with twice the dilation; a run that fails without that sign, or
// fails twice, fails the test.
func TestPropagationSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("propagation simulation skipped in short mode")
	}
	spec := defaultPropagationSpec(150)
	spec.Messages = min(spec.Messages, 4)
	if propagationRace {
		spec.Nodes = 60
		spec.Dilation = max(spec.Dilation, 8)
		spec.Messages = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for attempt := 1; ; attempt++ {
		res, err := runPropagation(ctx, t, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(res)
		problem := ""
		if res.Missing > 0 {
			problem = fmt.Sprintf("%d deliveries of %d missing", res.Missing, spec.Nodes*spec.Messages)
		} else if limit := 3 * res.Formula; res.P99 > limit {
			problem = fmt.Sprintf("99%% coverage took %s, above 3 × formula %s", res.P99, limit)
		}
		if problem == "" {
			return
		}
		if attempt == 1 && res.cpuBound() {
			t.Logf("%s, but the run was CPU-bound (per-hop excess p50 %s, p99 %s): again with dilation %d",
				problem, res.EdgeExcessP50, res.EdgeExcessP99, 2*spec.Dilation)
			spec.Dilation *= 2
			continue
		}
		t.Fatalf("%s (%s)", problem, res)
	}
}

// cpuBound reports whether a run's deliveries waited for the CPU: the
// scheduler never idle, a typical hop costing more than 5 ms beyond its
// link latency (under 2 ms on an idle machine), or the slowest hops
// stalling for longer than the whole formula.
func (r propagationResult) cpuBound() bool {
	return r.CPUBusy > 0.95 || r.EdgeExcessP50 > 5*time.Millisecond || r.EdgeExcessP99 > r.Formula
}

// propagationRuns counts benchmark runs, to give each its own seed.
var propagationRuns atomic.Uint64

// BenchmarkPropagation runs the simulation at 500, 1,000 and 2,000 nodes
// and reports the coverage times in undilated milliseconds. Run it once a
// size: go test ./p2p -run '^$' -bench Propagation -benchtime 1x.
func BenchmarkPropagation(b *testing.B) {
	for _, n := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			spec := defaultPropagationSpec(n)
			if n >= 2000 && *propDilation == 0 {
				spec.Dilation = 8
			}
			var sum propagationResult
			for range b.N {
				// Each run draws another network: -count 3 measures three
				// topologies, and the log names each run's seed.
				spec.Seed = *propSeed + propagationRuns.Add(1) - 1
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				res, err := runPropagation(ctx, b, spec)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				b.Log(res)
				if res.Missing > 0 {
					b.Fatalf("%d deliveries missing", res.Missing)
				}
				sum.P50 += res.P50
				sum.P99 += res.P99
				sum.P999 += res.P999
				sum.Formula += res.Formula
				sum.ExcessPerHop += res.ExcessPerHop
				sum.EdgeExcessP50 += res.EdgeExcessP50
				sum.DepthMean += res.DepthMean
				sum.CPUBusy += res.CPUBusy
				sum.HeapMB += res.HeapMB
				sum.StackMB += res.StackMB
			}
			f := float64(b.N)
			b.ReportMetric(ms(sum.P50)/f, "p50_ms")
			b.ReportMetric(ms(sum.P99)/f, "p99_ms")
			b.ReportMetric(ms(sum.P999)/f, "p999_ms")
			b.ReportMetric(ms(sum.Formula)/f, "formula_ms")
			b.ReportMetric(float64(sum.P999)/float64(sum.Formula), "ratio_p999")
			b.ReportMetric(ms(sum.ExcessPerHop)/f, "excess_per_hop_ms")
			b.ReportMetric(ms(sum.EdgeExcessP50)/f, "edge_excess_p50_ms")
			b.ReportMetric(sum.DepthMean/f, "depth_mean")
			b.ReportMetric(sum.CPUBusy/f, "cpu_busy")
			b.ReportMetric(sum.HeapMB/f, "heap_MB")
			b.ReportMetric(sum.StackMB/f, "stack_MB")
			b.ReportMetric(float64(spec.Dilation), "dilation")
		})
	}
}
