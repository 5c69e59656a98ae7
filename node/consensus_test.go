package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/driver"
	"github.com/bizra/node0/rpc"
)

// testnetHomes writes n homes whose genesis lists all n validators with
// equal stake, the same dev accounts and the same genesis time.
func testnetHomes(t *testing.T, n int, blockTime time.Duration, params ...chain.ConsensusParams) []Config {
	t.Helper()
	dir := t.TempDir()
	gt := time.Now().UTC().Truncate(time.Second)
	var cfgs []Config
	var vals []chain.GenesisValidator
	var g *chain.Genesis
	for i := range n {
		cfg := DefaultConfig()
		cfg.Metrics.Enabled = false
		cfg.RPC.Enabled = false
		cfg.P2P.Enabled = false
		res, err := Init(InitOptions{Home: filepath.Join(dir, fmt.Sprintf("v%d", i)), Moniker: fmt.Sprintf("v%d", i),
			BlockTime: blockTime, DevAccounts: 10, Config: &cfg, GenesisTime: gt})
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, res.Genesis.Validators...)
		cfgs = append(cfgs, res.Config)
		g = res.Genesis
	}
	g.Validators = vals
	if len(params) > 0 {
		g.Consensus = params[0]
	}
	for _, cfg := range cfgs {
		if err := g.Save(cfg.Path(cfg.Chain.GenesisFile)); err != nil {
			t.Fatal(err)
		}
	}
	return cfgs
}

// testnet runs validators in one process over a MemNetwork.
type testnet struct {
	t     *testing.T
	net   *MemNetwork
	cfgs  []Config
	nodes []*Node
}

func newTestnet(t *testing.T, n int, blockTime time.Duration, params ...chain.ConsensusParams) *testnet {
	tn := &testnet{t: t, net: NewMemNetwork(), cfgs: testnetHomes(t, n, blockTime, params...), nodes: make([]*Node, n)}
	for i := range n {
		tn.start(i)
	}
	t.Cleanup(func() {
		for i := range tn.nodes {
			tn.stop(i)
		}
	})
	return tn
}

func (tn *testnet) start(i int) {
	tn.t.Helper()
	n, err := New(tn.cfgs[i], Options{Logger: testLogger(tn.t).With("node", i), Transport: tn.net.Join})
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		tn.t.Fatal(err)
	}
	tn.nodes[i] = n
}

func (tn *testnet) stop(i int) {
	if n := tn.nodes[i]; n != nil {
		if err := n.Close(); err != nil {
			tn.t.Errorf("node %d close: %v", i, err)
		}
		tn.nodes[i] = nil
	}
}

func (tn *testnet) height(i int) uint64 {
	h, _ := tn.nodes[i].Chain().Head()
	return h.Height
}

// waitHeights waits until every listed node has committed height h.
func (tn *testnet) waitHeights(h uint64, d time.Duration, nodes ...int) {
	tn.t.Helper()
	waitFor(tn.t, d, fmt.Sprintf("nodes %v at height %d", nodes, h), func() bool {
		for _, i := range nodes {
			if tn.height(i) < h {
				return false
			}
		}
		return true
	})
}

// checkSameChain checks that the listed nodes hold the same blocks up to
// height h, each with a precommit certificate of a quorum that verifies.
func (tn *testnet) checkSameChain(h uint64, nodes ...int) {
	tn.t.Helper()
	g := tn.nodes[nodes[0]].Genesis()
	vals, err := validatorSet(g)
	if err != nil {
		tn.t.Fatal(err)
	}
	crypto, err := consensus.NewBLSCrypto(nil, vals)
	if err != nil {
		tn.t.Fatal(err)
	}
	for height := uint64(1); height <= h; height++ {
		var want *chain.Block
		for _, i := range nodes {
			blk, err := tn.nodes[i].Chain().Store().Block(height)
			if err != nil {
				tn.t.Fatalf("node %d block %d: %v", i, height, err)
			}
			if want == nil {
				want = blk
			} else if blk.Hash() != want.Hash() {
				tn.t.Fatalf("FORK at height %d: node %d has %s, node %d has %s", height, nodes[0], want.Hash(), i, blk.Hash())
			}
			qc, err := consensus.DecodeQC(blk.Cert)
			if err != nil {
				tn.t.Fatalf("node %d block %d certificate: %v", i, height, err)
			}
			msg := consensus.VoteSignBytes(g.Hash(), consensus.Precommit, height, qc.Round, blk.Hash())
			if qc.Type != consensus.Precommit || qc.BlockID != blk.Hash() || !vals.IsQuorum(vals.StakeOf(qc.Signers)) ||
				!crypto.VerifyAggregate(qc.Signers, msg, qc.Sig) {
				tn.t.Fatalf("node %d block %d: certificate %+v does not certify it", i, height, qc)
			}
		}
	}
}

func TestFourValidatorsCommitOneChain(t *testing.T) {
	tn := newTestnet(t, 4, 100*time.Millisecond)
	// Transfers enter node 0's pool only (no gossip of transactions
	// here): the other validators execute them when node 0 leads.
	dev := DevAccounts(2)
	for nonce := range uint64(20) {
		tx := signedDevTransfer(t, tn.nodes[0].Chain(), dev[0], dev[1].Address, nonce)
		if err := tn.nodes[0].Mempool().AddTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	tn.waitHeights(10, 60*time.Second, 0, 1, 2, 3)
	waitFor(t, 60*time.Second, "every node to commit the transfers", func() bool {
		for i := range 4 {
			if a, _ := tn.nodes[i].Chain().Account(dev[0].Address); a.Nonce != 20 {
				return false
			}
		}
		return true
	})
	h := min(tn.height(0), tn.height(1), tn.height(2), tn.height(3))
	tn.checkSameChain(h, 0, 1, 2, 3)
	// Every validator led some rounds and the participation counts see all.
	proposers := map[chain.Address]bool{}
	for height := uint64(1); height <= h; height++ {
		hd, err := tn.nodes[0].Chain().Store().Header(height)
		if err != nil {
			t.Fatal(err)
		}
		proposers[hd.Proposer] = true
	}
	if len(proposers) < 2 {
		t.Errorf("only %d distinct proposers in %d blocks", len(proposers), h)
	}
	p := tn.nodes[1].engine.Participation()
	if p.Blocks == 0 {
		t.Fatal("no participation recorded")
	}
	st := tn.nodes[1].engine.Consensus()
	if st.Height <= h-1 || st.Stats.Commits == 0 {
		t.Fatalf("consensus status %+v", st)
	}
}

func TestValidatorRestartsAndCatchesUp(t *testing.T) {
	tn := newTestnet(t, 4, 100*time.Millisecond)
	tn.waitHeights(3, 60*time.Second, 0, 1, 2, 3)
	tn.stop(3)
	// Three of four hold more than two thirds: the chain goes on.
	at := tn.height(0)
	tn.waitHeights(at+5, 60*time.Second, 0, 1, 2)
	tn.start(3)
	target := tn.height(0) + 3
	tn.waitHeights(target, 60*time.Second, 0, 1, 2, 3)
	tn.checkSameChain(target, 0, 1, 2, 3)
}

func TestPartitionedMinorityStallsWithoutForking(t *testing.T) {
	tn := newTestnet(t, 4, 100*time.Millisecond)
	tn.waitHeights(2, 60*time.Second, 0, 1, 2, 3)
	// Cut validators 2 and 3 from 0 and 1: neither side holds a quorum.
	side := func(i uint32) int { return int(i) / 2 }
	tn.net.SetDrop(func(from, to uint32, _ *consensus.Message) bool { return side(from) != side(to) })
	time.Sleep(300 * time.Millisecond) // let what was in flight land
	stalled := []uint64{tn.height(0), tn.height(1), tn.height(2), tn.height(3)}
	time.Sleep(1500 * time.Millisecond)
	for i := range 4 {
		if h := tn.height(i); h > stalled[i]+1 {
			t.Fatalf("node %d went from %d to %d without a quorum", i, stalled[i], h)
		}
	}
	tn.net.SetDrop(nil)
	top := max(tn.height(0), tn.height(1), tn.height(2), tn.height(3))
	tn.waitHeights(top+3, 90*time.Second, 0, 1, 2, 3)
	tn.checkSameChain(top+3, 0, 1, 2, 3)
}

func TestUnsafeConsensusStateRefusesToStart(t *testing.T) {
	cfg := newTestHome(t, 100*time.Millisecond, time.Time{})
	cfg.Metrics.Enabled = false
	cfg.RPC.Enabled = false
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A state ahead of the chain: the store lost blocks this validator
	// signed for.
	st := &consensus.State{Height: 50, LockedRound: consensus.NoRound, ValidRound: consensus.NoRound}
	if err := n.store.WriteAux(chain.AuxWrite{Key: driver.StateKey(), Value: consensus.EncodeState(st)}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{Logger: testLogger(t)}); !errors.Is(err, ErrUnsafeState) {
		t.Fatalf("New with a state ahead of the chain: %v", err)
	}
}

func TestMultiValidatorNeedsTransport(t *testing.T) {
	cfgs := testnetHomes(t, 2, time.Second)
	if _, err := New(cfgs[0], Options{Logger: testLogger(t)}); !errors.Is(err, ErrNoTransport) {
		t.Fatalf("got %v", err)
	}
}

func TestConsensusOverJSONRPC(t *testing.T) {
	cfg := newTestHome(t, 100*time.Millisecond, time.Time{})
	cfg.Metrics.ListenAddr = "127.0.0.1:0"
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The engine's status moves to the next height just after the chain
	// commits a block: wait for the status, not the chain.
	waitFor(t, 20*time.Second, "height 4", func() bool { return n.engine.Consensus().Height >= 4 })
	c := rpc.NewClient("http://"+n.RPCAddr(), 1)
	ctx := context.Background()

	var cs rpc.Consensus
	if err := c.Call(ctx, &cs, "bizra_consensus"); err != nil {
		t.Fatal(err)
	}
	if cs.Height < 4 || cs.Leader != n.Validator().Name || cs.LastCertificate == nil || cs.Rounds < 4 || cs.CertificatesFormed < 6 {
		t.Fatalf("bizra_consensus: %+v", cs)
	}
	last := cs.LastCertificate
	if last.Type != "precommit" || len(last.Signers) != 1 || last.Signers[0] != n.Validator().Name || last.SignedStake != last.TotalStake {
		t.Fatalf("last certificate %+v", last)
	}

	var cert struct {
		Number  hexutil.Uint64   `json:"number"`
		Hash    chain.Hash       `json:"hash"`
		Decoded *rpc.Certificate `json:"decoded"`
	}
	if err := c.Call(ctx, &cert, "bizra_getBlockCertificate", "0x2"); err != nil {
		t.Fatal(err)
	}
	if cert.Number != 2 || cert.Decoded == nil || cert.Decoded.BlockHash != cert.Hash || cert.Decoded.Height != 2 {
		t.Fatalf("certificate of block 2: %+v", cert)
	}

	var vals []rpc.Validator
	if err := c.Call(ctx, &vals, "bizra_validators"); err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 || vals[0].Participation == nil || *vals[0].Participation != 1 || vals[0].Blocks < 3 || vals[0].Signed != vals[0].Blocks {
		t.Fatalf("validators: %+v", vals)
	}

	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"bizra_consensus_rounds_total ", "bizra_consensus_timeouts_total 0", "bizra_consensus_certificates_formed_total ",
		"bizra_consensus_votes_received_total 0", "bizra_consensus_aggregates_received_total 0", "bizra_consensus_bad_signatures_total 0",
		"bizra_consensus_certificate_seconds_bucket", "bizra_consensus_persist_seconds_bucket", "bizra_consensus_commit_round_bucket",
		"bizra_consensus_last_certificate_stake_ratio 1", "bizra_consensus_height "} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

func TestVerifyCertificates(t *testing.T) {
	tn := newTestnet(t, 4, 100*time.Millisecond)
	tn.waitHeights(5, 60*time.Second, 0, 1, 2, 3)
	g := tn.nodes[2].Genesis()
	tn.stop(2)
	store, err := chain.OpenStore(tn.cfgs[2].Path(tn.cfgs[2].Chain.DataDir), chain.DefaultStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	head, _, _ := store.Head()
	n, err := VerifyCertificates(store, g)
	if err != nil || n != int(head) || n < 5 {
		t.Fatalf("verified %d of %d: %v", n, head, err)
	}
	// The same blocks under another chain's identity: every signature was
	// made for this chain, so none verifies.
	other := *g
	other.ChainID++
	if _, err := VerifyCertificates(store, &other); !errors.Is(err, consensus.ErrBadSignature) || !strings.Contains(err.Error(), "block 1 ") {
		t.Fatalf("foreign genesis: %v", err)
	}
	// A set in which the signers hold no quorum.
	heavy := *g
	heavy.Validators = append([]chain.GenesisValidator(nil), g.Validators...)
	heavy.Validators = append(heavy.Validators, chain.GenesisValidator{Name: "whale", PubKey: g.Validators[0].PubKey, Stake: 1000})
	if _, err := VerifyCertificates(store, &heavy); !errors.Is(err, consensus.ErrNoQuorum) || !strings.Contains(err.Error(), "block 1 ") {
		t.Fatalf("heavier set: %v", err)
	}
}

func TestCommitteesAggregateInProcess(t *testing.T) {
	// Eight validators in two committees, reshuffled every 4 blocks: votes
	// go through committee aggregators to the leader.
	tn := newTestnet(t, 8, 200*time.Millisecond, chain.ConsensusParams{Committees: 2, EpochLength: 4})
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	tn.waitHeights(10, 120*time.Second, all...)
	tn.checkSameChain(10, all...)
	var aggregates, formed uint64
	for _, n := range tn.nodes {
		st := n.engine.Consensus()
		if st.Committees == nil || st.Committees.Count() != 2 {
			t.Fatalf("committees: %+v", st.Committees)
		}
		aggregates += st.Stats.AggregatesReceived
		formed += st.Stats.CertsFormed
	}
	if aggregates == 0 || formed < 20 {
		t.Fatalf("%d aggregates received, %d certificates formed", aggregates, formed)
	}
}
