package rpc

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
)

// testNode is a Node whose sync report the test sets.
type testNode struct {
	mu    sync.Mutex
	sync  SyncStatus
	peers int
}

func (n *testNode) setSync(st SyncStatus) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sync = st
}

func (n *testNode) Sync() SyncStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sync
}

func (n *testNode) Status() Status {
	// Syncing and HighestBlock are the server's to fill in from Sync.
	return Status{Height: 2, Peers: n.peers, Syncing: true, HighestBlock: 12345}
}
func (n *testNode) Validators() []Validator { return nil }
func (n *testNode) Peers() []Peer           { return make([]Peer, n.peers) }
func (n *testNode) Consensus() Consensus    { return Consensus{} }
func (n *testNode) Certificate([]byte) (*Certificate, error) {
	return nil, errors.New("no certificates in this test")
}

// withNode mounts a second server on the env's chain and pool, with node.
func (e *env) withNode(node Node) *env {
	e.t.Helper()
	srv, err := NewServer(DefaultConfig(), chainAdapter{e.chain}, poolAdapter{e.pool}, Options{Node: node})
	if err != nil {
		e.t.Fatal(err)
	}
	out := *e
	out.srv, out.http = srv, httptest.NewServer(srv.Handler())
	e.t.Cleanup(out.http.Close)
	return &out
}

func TestSyncContract(t *testing.T) {
	base := newEnv(t, DefaultConfig())
	node := &testNode{peers: 3}
	withNode := base.withNode(node)
	for _, tc := range []struct {
		name    string
		e       *env
		sync    *SyncStatus // the node's report; nil without a node
		syncing string      // eth_syncing's answer
		status  string      // bizra_status's peers, syncing and highestBlock
		peers   string      // net_peerCount's answer
	}{
		{name: "no node", e: base, syncing: `false`, peers: `"0x0"`,
			status: `{"peers":0,"syncing":false,"highestBlock":"0x2"}`},
		{name: "node in step", e: withNode, sync: &SyncStatus{CurrentBlock: 2, HighestBlock: 2}, syncing: `false`, peers: `"0x3"`,
			status: `{"peers":3,"syncing":false,"highestBlock":"0x2"}`},
		{name: "node syncing", e: withNode, sync: &SyncStatus{Syncing: true, StartingBlock: 1, CurrentBlock: 2, HighestBlock: 300}, syncing: `{"startingBlock":"0x1","currentBlock":"0x2","highestBlock":"0x12c"}`, peers: `"0x3"`,
			status: `{"peers":3,"syncing":true,"highestBlock":"0x12c"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sync != nil {
				node.setSync(*tc.sync)
			}
			res, rerr := tc.e.call("eth_syncing")
			if rerr != nil || string(res) != tc.syncing {
				t.Fatalf("eth_syncing: %s %v, want %s", res, rerr, tc.syncing)
			}
			// A client reading the answer into SyncStatus gets the report
			// back (all of it while syncing, nothing otherwise).
			var back, want SyncStatus
			if tc.sync != nil && tc.sync.Syncing {
				want = *tc.sync
			}
			if err := json.Unmarshal(res, &back); err != nil || back != want {
				t.Fatalf("eth_syncing %s decodes to %+v, %v; want %+v", res, back, err, want)
			}
			res, rerr = tc.e.call("bizra_status")
			if rerr != nil {
				t.Fatal(rerr)
			}
			var got struct {
				Peers        json.RawMessage `json:"peers"`
				Syncing      json.RawMessage `json:"syncing"`
				HighestBlock json.RawMessage `json:"highestBlock"`
			}
			mustDecode(t, res, &got)
			if b, _ := json.Marshal(got); string(b) != tc.status {
				t.Fatalf("bizra_status %s has %s, want %s", res, b, tc.status)
			}
			if res, rerr = tc.e.call("net_peerCount"); rerr != nil || string(res) != tc.peers {
				t.Fatalf("net_peerCount %s %v, want %s", res, rerr, tc.peers)
			}
		})
	}
}
