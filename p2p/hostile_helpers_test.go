package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
)

// rawPeer is a hostile peer for the tests: a plain go-libp2p host that
// speaks the wire of this package by hand (the status handshake, sync
// requests, GossipSub RPCs) and does whatever a test tells it, where a Host
// would behave.
type rawPeer struct {
	t    testing.TB
	h    host.Host
	head uint64 // advertised in the status exchange

	done chan struct{} // closed when the test ends

	mu      sync.Mutex
	stalled []network.Stream // gossip streams it holds without reading
}

// statusMode is how a rawPeer answers the status exchange.
type statusMode int

const (
	// statusAnswer answers like a node of the test chain.
	statusAnswer statusMode = iota
	// statusSilent reads the other side's status and never answers.
	statusSilent
)

// newRawPeer starts a raw host on loopback TCP that answers the status
// exchange by mode, advertising head.
func newRawPeer(t testing.TB, mode statusMode, head uint64) *rawPeer {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawPeer{t: t, h: h, head: head, done: make(chan struct{})}
	t.Cleanup(func() {
		close(r.done)
		r.mu.Lock()
		for _, s := range r.stalled {
			_ = s.Reset()
		}
		r.mu.Unlock()
		_ = h.Close()
	})
	h.SetStreamHandler(statusProtocol(), func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(statusTimeout))
		if _, err := readStatus(s); err != nil {
			_ = s.Reset()
			return
		}
		if mode == statusSilent {
			// Hold the stream until the other side gives up.
			select {
			case <-r.done:
			case <-time.After(statusTimeout):
			}
			return
		}
		_, _ = s.Write(r.status().encode())
	})
	return r
}

func statusProtocol() protocol.ID { return protocol.ID(fmt.Sprintf("/bizra/%d/status/1", testChainID)) }
func syncProtocol() protocol.ID   { return protocol.ID(fmt.Sprintf("/bizra/%d/sync/1", testChainID)) }

func (r *rawPeer) status() status {
	return status{ChainID: testChainID, Genesis: testGenesis, Head: r.head}
}

func (r *rawPeer) id() string { return r.h.ID().String() }

func (r *rawPeer) addrs() []string {
	var out []string
	for _, a := range r.h.Addrs() {
		out = append(out, a.String()+"/p2p/"+r.h.ID().String())
	}
	return out
}

// connect dials target.
func (r *rawPeer) connect(target *Host) {
	r.t.Helper()
	ai := peer.AddrInfo{ID: target.host.ID()}
	for _, a := range target.host.Addrs() {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.h.Connect(ctx, ai); err != nil {
		r.t.Fatalf("raw peer dial: %v", err)
	}
}

// connectVerified dials target and waits until target lists it as a
// peer that passed the status handshake.
func (r *rawPeer) connectVerified(target *Host) {
	r.t.Helper()
	r.connect(target)
	waitFor(r.t, 10*time.Second, "the raw peer to pass the handshake", func() bool { return hasPeer(target, r.id()) })
}

func (r *rawPeer) connected(target *Host) bool {
	return r.h.Network().Connectedness(target.host.ID()) == network.Connected
}

// syncResult is what a raw sync request got back.
type rawSyncResult struct {
	blocks int   // blocks in the response (0 when refused)
	bytes  int64 // bytes read from the stream
	err    error // a reset or a malformed response
}

// requestSync sends one sync request and reads the whole response.
func (r *rawPeer) requestSync(target *Host, from uint64, max uint32) rawSyncResult {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.h.NewStream(ctx, target.host.ID(), syncProtocol())
	if err != nil {
		return rawSyncResult{err: err}
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(syncRequest{From: from, Max: max}.encode()); err != nil {
		_ = s.Reset()
		return rawSyncResult{err: err}
	}
	_ = s.CloseWrite()
	var cr countingReader
	cr.r = s
	blocks, err := readSyncResponse(bufio.NewReaderSize(&cr, 64<<10), syncLimits{Count: int(max), Block: 64 << 20, Total: 1 << 30})
	if err != nil {
		_ = s.Reset()
	}
	return rawSyncResult{blocks: len(blocks), bytes: cr.n, err: err}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// serveSync makes the raw peer answer sync requests with serve's blocks.
func (r *rawPeer) serveSync(serve func(syncRequest) [][]byte) {
	r.h.SetStreamHandler(syncProtocol(), func(s network.Stream) {
		defer s.Close()
		buf := make([]byte, syncRequestLen)
		if _, err := io.ReadFull(s, buf); err != nil {
			_ = s.Reset()
			return
		}
		req, err := decodeSyncRequest(buf)
		if err != nil {
			_ = s.Reset()
			return
		}
		if _, err := encodeSyncResponse(s, serve(req), syncLimits{Count: int(req.Max), Block: 64 << 20, Total: 64 << 20}); err != nil {
			_ = s.Reset()
		}
	})
}

// gossipProtocols are the GossipSub versions the raw peer claims.
var gossipProtocols = []protocol.ID{pubsub.GossipSubID_v12, pubsub.GossipSubID_v11}

// stallGossip makes the raw peer accept the gossip streams target opens
// to it and never read them: a peer that stopped reading.
func (r *rawPeer) stallGossip() {
	for _, p := range gossipProtocols {
		r.h.SetStreamHandler(p, func(s network.Stream) {
			r.mu.Lock()
			r.stalled = append(r.stalled, s)
			r.mu.Unlock()
		})
	}
}

// readGossip makes the raw peer accept the gossip streams target opens to
// it and read them to the end, so that target counts it as a gossip peer.
func (r *rawPeer) readGossip() {
	for _, p := range gossipProtocols {
		r.h.SetStreamHandler(p, func(s network.Stream) { _, _ = io.Copy(io.Discard, s) })
	}
}

// gossipStream opens the raw peer's own gossip stream to target.
func (r *rawPeer) gossipStream(target *Host) network.Stream {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.h.NewStream(ctx, target.host.ID(), gossipProtocols...)
	if err != nil {
		r.t.Fatalf("raw gossip stream: %v", err)
	}
	return s
}

// writeRPC writes one length-prefixed GossipSub RPC.
func writeRPC(t testing.TB, s network.Stream, rpc *pb.RPC) {
	t.Helper()
	if err := tryWriteRPC(s, rpc); err != nil {
		t.Fatalf("write rpc: %v", err)
	}
}

// tryWriteRPC writes one length-prefixed GossipSub RPC.
func tryWriteRPC(s network.Stream, rpc *pb.RPC) error {
	b, err := proto.Marshal(rpc)
	if err != nil {
		return err
	}
	var lb [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lb[:], uint64(len(b)))
	_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = s.Write(append(lb[:n:n], b...))
	return err
}

// subscribeRPC is an RPC announcing subOpts(subscribe, topics...).
func subscribeRPC(subscribe bool, topics ...string) *pb.RPC {
	return &pb.RPC{Subscriptions: subOpts(subscribe, topics...)}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

const mib = 1 << 20

// heapInUseNoGC is the heap in use now, garbage included.
func heapInUseNoGC() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
