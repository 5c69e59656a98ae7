//go:build unix

package node

// Fuzzing the gossip validators with the adversary harness's message
// generator. The seed corpora (testdata/fuzz/FuzzConsensusGossip and
// FuzzTxGossip) are the generator's messages: valid ones, altered
// proposals, replayed and re-wrapped votes and timeouts, forgeries, junk
// transaction batches. TestGossipFuzzCorpus checks that they are current;
// -update rewrites them (after a change of the wire formats, for
// instance).
//
// The properties: a validator never panics, and never accepts
//   - on a consensus topic: a message that does not decode or belongs on
//     another topic, a bad signature, a proposal whose payload is not bound
//     to its BlockID (it must decode to a block of that hash and height
//     whose transactions hash to the header's root), a certificate or a
//     timeout certificate without a quorum;
//   - on the transaction topic: a batch larger than the node itself sends
//     (txBatchMax), or one holding a transaction that does not decode or is
//     badly signed, or that the pool did not admit (only admitted
//     transactions may be relayed).

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
	"github.com/bizra/node0/consensus/bls"
	"github.com/bizra/node0/mempool"
	"github.com/bizra/node0/p2p"
)

// genWorld is a validator set of four with keys derived from fixed seeds,
// so that the generated messages (BLS signatures are deterministic) are
// the same on every run.
type genWorld struct {
	tag    chain.Hash
	keys   []*bls.SecretKey
	vals   *consensus.ValidatorSet
	crypto consensus.Crypto // verifies only
	rules  *chain.Rules
}

const genValidators = 4

func newGenWorld(tb testing.TB) *genWorld {
	tb.Helper()
	lim := chain.DefaultLimits()
	w := &genWorld{tag: chain.Keccak256([]byte("bizra/fuzz/chain")), rules: chain.NewRules(DefaultChainID, &lim.MinGasPrice.Int, lim.MaxTxBytes)}
	vals := make([]consensus.Validator, genValidators)
	for i := range vals {
		seed := ethcrypto.Keccak256([]byte("bizra/fuzz/validator"), []byte{byte(i)})
		seed[0] &= 0x3f // below the group order
		sk, err := bls.SecretKeyFromBytes(seed)
		if err != nil {
			tb.Fatal(err)
		}
		w.keys = append(w.keys, sk)
		vals[i] = consensus.Validator{Name: fmt.Sprintf("v%d", i), PubKey: sk.PublicKey().Bytes(), Stake: 100}
	}
	var err error
	if w.vals, err = consensus.NewValidatorSet(vals); err != nil {
		tb.Fatal(err)
	}
	if w.crypto, err = consensus.NewBLSCrypto(nil, w.vals); err != nil {
		tb.Fatal(err)
	}
	return w
}

func (w *genWorld) sign(i uint32, msg []byte) []byte { return w.keys[i].Sign(msg).Bytes() }

// block is a block of height h with three signed transfers, whose header
// commits to them.
func (w *genWorld) block(h uint64) *chain.Block {
	dev := DevAccounts(2)
	blk := &chain.Block{Header: chain.Header{
		ChainID: w.rules.ChainID, Height: h, Timestamp: 1_800_000_000_000 + h*300,
		ParentHash: chain.Keccak256([]byte("parent"), []byte{byte(h)}), Proposer: dev[1].Address,
		StateRoot: chain.Keccak256([]byte("state")), ReceiptsRoot: chain.Keccak256([]byte("receipts")),
	}}
	var hashes []chain.Hash
	for n := range uint64(3) {
		raw := devTransferRaw(w.rules, dev[0], dev[1].Address, n)
		blk.Txs = append(blk.Txs, raw)
		hashes = append(hashes, chain.Keccak256(raw))
	}
	blk.Header.TxRoot = chain.MerkleRoot(hashes)
	blk.Header.GasUsed = 3 * chain.TransferGas
	return blk
}

func (w *genWorld) proposal(h, r uint64) *consensus.Message {
	blk := w.block(h)
	id := blk.Hash()
	p := w.vals.Proposer(h, r)
	return &consensus.Message{Kind: consensus.KindProposal, From: p, Proposal: &consensus.Proposal{
		Height: h, Round: r, BlockID: id, Payload: blk.Encode(), ValidRound: consensus.NoRound, Proposer: p,
		Sig: w.sign(p, consensus.ProposalSignBytes(w.tag, h, r, id, consensus.NoRound)),
	}}
}

func (w *genWorld) vote(i uint32, t consensus.VoteType, h, r uint64, id chain.Hash) *consensus.Message {
	return &consensus.Message{Kind: consensus.KindVote, From: i, Vote: &consensus.Vote{
		Type: t, Height: h, Round: r, BlockID: id, Validator: i, Sig: w.sign(i, consensus.VoteSignBytes(w.tag, t, h, r, id)),
	}}
}

func (w *genWorld) timeout(i uint32, h, r uint64) *consensus.Message {
	return &consensus.Message{Kind: consensus.KindTimeout, From: i, Timeout: &consensus.Timeout{
		Height: h, Round: r, Validator: i, Sig: w.sign(i, consensus.TimeoutSignBytes(w.tag, h, r)),
	}}
}

// aggregate signs msg by signers and returns the bitmap and the aggregate.
func (w *genWorld) aggregate(tb testing.TB, msg []byte, signers ...uint32) (consensus.Bitmap, []byte) {
	bm := consensus.NewBitmap(genValidators)
	var sigs [][]byte
	for _, i := range signers {
		bm.Set(i)
		sigs = append(sigs, w.sign(i, msg))
	}
	agg, err := w.crypto.Aggregate(sigs)
	if err != nil {
		tb.Fatal(err)
	}
	return bm, agg
}

func (w *genWorld) qc(tb testing.TB, kind consensus.Kind, t consensus.VoteType, h, r uint64, id chain.Hash, signers ...uint32) *consensus.Message {
	bm, sig := w.aggregate(tb, consensus.VoteSignBytes(w.tag, t, h, r, id), signers...)
	return &consensus.Message{Kind: kind, From: signers[0], QC: &consensus.QC{Type: t, Height: h, Round: r, BlockID: id, Signers: bm, Sig: sig}}
}

func (w *genWorld) tc(tb testing.TB, h, r uint64, signers ...uint32) *consensus.Message {
	bm, sig := w.aggregate(tb, consensus.TimeoutSignBytes(w.tag, h, r), signers...)
	return &consensus.Message{Kind: consensus.KindTC, From: signers[0], TC: &consensus.TC{Height: h, Round: r, Signers: bm, Sig: sig}}
}

// consensusSeed is one input of FuzzConsensusGossip: a topic (an index
// into consensusTopics) and the wire bytes published on it.
type consensusSeed struct {
	name  string
	topic uint8
	wire  []byte
}

func topicIndex(name string) uint8 { return uint8(slices.Index(consensusTopics, name)) }

// consensusSeeds are the generator's messages for the consensus topics.
func consensusSeeds(tb testing.TB, w *genWorld) []consensusSeed {
	const h, r = 2, 0
	prop := w.proposal(h, r)
	id := prop.Proposal.BlockID
	prevote := w.vote(1, consensus.Prevote, h, r, id)
	precommit := w.vote(2, consensus.Precommit, h, r, id)
	timeout := w.timeout(3, h, r)
	on := func(name string, attempt uint8, m *consensus.Message) consensusSeed {
		return consensusSeed{name, topicIndex(topicOf(m.Kind)), encodeWire(attempt, m)}
	}
	seeds := []consensusSeed{
		on("proposal", 0, prop),
		on("prevote-attempt-1", 1, prevote),
		on("precommit", 0, precommit),
		on("timeout", 0, timeout),
		on("aggregate-2-of-4", 1, w.qc(tb, consensus.KindAggregate, consensus.Prevote, h, r, id, 0, 1)),
		on("qc-3-of-4", 0, w.qc(tb, consensus.KindQC, consensus.Precommit, h, r, id, 0, 1, 2)),
		on("tc-3-of-4", 0, w.tc(tb, h, r, 1, 2, 3)),
	}
	for kind, name := range []string{"junk-random", "drop-tx", "foreign-tx", "truncated", "empty"} {
		seeds = append(seeds, on("proposal-"+name, 0, alterProposal(prop, kind, uint64(kind))))
	}
	for k := range uint64(6) {
		for _, c := range []struct {
			name    string
			attempt uint8
			m       *consensus.Message
		}{{"prevote", 1, prevote}, {"timeout", 0, timeout}, {"proposal", 0, prop}} {
			topic, wire := replayVariant(c.attempt, c.m, genValidators, k)
			seeds = append(seeds, consensusSeed{fmt.Sprintf("%s-replay-%d", c.name, k), topicIndex(topic), wire})
		}
	}
	forged := w.vote(1, consensus.Prevote, h, r, id)
	forged.Vote.Sig = w.sign(2, consensus.VoteSignBytes(w.tag, consensus.Prevote, h, r, id)) // signed by another validator
	shortBitmap := w.qc(tb, consensus.KindQC, consensus.Precommit, h, r, id, 0, 1, 2)
	shortBitmap.QC.Signers = append(shortBitmap.QC.Signers, 0)
	otherBlock := w.vote(1, consensus.Prevote, h, r, id)
	otherBlock.Vote.BlockID[0] ^= 1 // the signature no longer covers it
	seeds = append(seeds,
		on("prevote-forged", 0, forged),
		on("prevote-other-block", 0, otherBlock),
		on("qc-long-bitmap", 0, shortBitmap),
		consensusSeed{"prevote-on-proposals", topicIndex(topicProposals), encodeWire(0, prevote)},
		consensusSeed{"garbage", 0, []byte{wireVersion, 0, 0, 9, 9, 9}},
	)
	return seeds
}

// mustNotAccept says why a consensus validator must not accept wire on
// topic, nil when it may.
func mustNotAccept(w *genWorld, topic string, wire []byte) error {
	_, m, err := decodeWire(wire)
	if err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if topicOf(m.Kind) != topic {
		return fmt.Errorf("a %v message on %s", m.Kind, topic)
	}
	if err := consensus.CheckSignature(w.tag, w.vals, w.crypto, m); err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	switch m.Kind {
	case consensus.KindProposal:
		return payloadBound(m.Proposal)
	case consensus.KindQC:
		if err := consensus.VerifyQC(w.tag, w.vals, w.crypto, m.QC); err != nil {
			return fmt.Errorf("certificate of %d signers: %w", m.QC.Signers.Count(), err)
		}
	case consensus.KindTC:
		if err := consensus.VerifyTC(w.tag, w.vals, w.crypto, m.TC); err != nil {
			return fmt.Errorf("timeout certificate of %d signers: %w", m.TC.Signers.Count(), err)
		}
	}
	return nil
}

// payloadBound checks that a proposal's payload is the block its BlockID
// names: it decodes to a block of that hash and height, without a
// certificate, whose transactions hash to the header's root.
func payloadBound(p *consensus.Proposal) error {
	blk, err := chain.DecodeBlock(p.Payload)
	if err != nil {
		return fmt.Errorf("payload does not decode: %w", err)
	}
	hashes := make([]chain.Hash, len(blk.Txs))
	for i, raw := range blk.Txs {
		hashes[i] = chain.Keccak256(raw)
	}
	switch {
	case blk.Hash() != p.BlockID:
		return fmt.Errorf("payload is block %s, the proposal names %s", blk.Hash(), p.BlockID)
	case blk.Header.Height != p.Height:
		return fmt.Errorf("payload of height %d for height %d", blk.Header.Height, p.Height)
	case len(blk.Cert) != 0:
		return errors.New("payload carries a certificate")
	case chain.MerkleRoot(hashes) != blk.Header.TxRoot:
		return errors.New("payload's transactions do not hash to its header's root")
	}
	return nil
}

// FuzzConsensusGossip: the consensus topics' validator never panics and
// never accepts what mustNotAccept refuses.
func FuzzConsensusGossip(f *testing.F) {
	w := newGenWorld(f)
	crypto, err := consensus.NewBLSCrypto(nil, w.vals)
	if err != nil {
		f.Fatal(err)
	}
	// Committed height 1: the generator's height-2 messages are timely.
	g := newConsensusGossip(consensusGossipParams{
		tag: w.tag, vals: w.vals, crypto: consensus.NewVerifyCache(crypto, 0),
		head:        func() uint64 { return 1 },
		committees:  func() *consensus.Committees { return nil },
		epochLength: 1 << 20,
		log:         slog.New(slog.DiscardHandler),
	})
	validators := make([]func(string, []byte) p2p.Verdict, len(consensusTopics))
	for i, name := range consensusTopics {
		validators[i] = g.validate(name, -1)
	}
	f.Fuzz(func(t *testing.T, topic uint8, wire []byte) {
		i := int(topic) % len(consensusTopics)
		if validators[i]("fuzz-peer", wire) != p2p.Accept {
			return
		}
		if why := mustNotAccept(w, consensusTopics[i], wire); why != nil {
			t.Fatalf("accepted on %s: %v", consensusTopics[i], why)
		}
	})
}

// txWorld is a chain (a node's, built but not started) with the dev
// accounts funded, for the transaction validator.
type txWorld struct {
	nd    *Node
	rules *chain.Rules
}

func newTxWorld(tb testing.TB) *txWorld {
	tb.Helper()
	home := filepath.Join(tb.TempDir(), "home")
	cfg := DefaultConfig()
	cfg.Metrics.Enabled, cfg.RPC.Enabled, cfg.P2P.Enabled = false, false, false
	if _, err := Init(InitOptions{Home: home, BlockTime: time.Second, DevAccounts: 10, Config: &cfg}); err != nil {
		tb.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		tb.Fatal(err)
	}
	nd, err := New(c, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = nd.Close() })
	return &txWorld{nd: nd, rules: nd.Chain().Rules()}
}

// pool is an empty pool over the world's chain.
func (w *txWorld) pool(tb testing.TB) *mempool.Pool {
	p, err := mempool.New(mempool.DefaultConfig(), w.rules, w.nd.Chain(), mempool.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// txSeeds are the generator's transaction batches.
func txSeeds(w *txWorld) map[string][]byte {
	dev := DevAccounts(10)
	good := func(acct int, n uint64) []byte {
		return devTransferRaw(w.rules, dev[acct], dev[(acct+1)%10].Address, n)
	}
	unfunded := unfundedTxs(w.rules, 31, "fuzz")
	bad := make([][]byte, 31)
	for i := range bad {
		bad[i] = badlySignedTx(w.rules, uint64(i))
	}
	var many [][]byte // more than a node sends in one batch, all good
	for i := range txBatchMax + 1 {
		many = append(many, good(3+i%7, uint64(i/7)))
	}
	return map[string][]byte{
		"good":                  encodeTxBatch([][]byte{good(0, 0), good(0, 1), good(0, 2)}),
		"good-and-unfunded":     encodeTxBatch(append([][]byte{good(1, 0)}, unfunded...)),
		"good-and-badly-signed": encodeTxBatch(append([][]byte{good(2, 0)}, bad...)),
		"unfunded":              encodeTxBatch(unfunded),
		"badly-signed":          encodeTxBatch(bad),
		"good-and-undecodable":  encodeTxBatch([][]byte{good(0, 0), {0x02, 0xc0}, bytes.Repeat([]byte{0xff}, 40)}),
		"over-the-batch-limit":  encodeTxBatch(many),
	}
}

// FuzzTxGossip: the transaction topic's validator, over an empty pool each
// time, never panics and never accepts a batch larger than txBatchMax, or
// one with a transaction that does not decode, is badly signed or was not
// admitted.
func FuzzTxGossip(f *testing.F) {
	w := newTxWorld(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := w.pool(t)
		g := newTxGossip(pool, slog.New(slog.DiscardHandler))
		if g.validate("fuzz-peer", data) != p2p.Accept {
			return
		}
		raws, err := decodeTxBatch(data)
		if err != nil {
			t.Fatalf("accepted a batch that does not decode: %v", err)
		}
		if len(raws) > txBatchMax {
			t.Fatalf("accepted a batch of %d transactions, more than the %d a node sends", len(raws), txBatchMax)
		}
		for i, raw := range raws {
			tx, err := w.rules.DecodeTx(raw)
			if err != nil {
				t.Fatalf("accepted a batch whose transaction %d of %d does not decode or is badly signed: %v", i, len(raws), err)
			}
			if _, ok := pool.Get(tx.Hash); !ok {
				t.Fatalf("accepted (relays) a batch whose transaction %d of %d was not admitted", i, len(raws))
			}
		}
	})
}

// TestGossipFuzzCorpus checks that the seed corpora in testdata/fuzz are
// the generator's; -update rewrites them.
func TestGossipFuzzCorpus(t *testing.T) {
	cw := newGenWorld(t)
	want := map[string]map[string]string{"FuzzConsensusGossip": {}, "FuzzTxGossip": {}}
	for _, s := range consensusSeeds(t, cw) {
		want["FuzzConsensusGossip"][s.name] = corpusFile(fmt.Sprintf("byte(%d)", s.topic), s.wire)
	}
	for name, b := range txSeeds(newTxWorld(t)) {
		want["FuzzTxGossip"][name] = corpusFile("", b)
	}
	for fuzz, files := range want {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if *update {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v (go test ./node -run TestGossipFuzzCorpus -update writes the corpus)", err)
		}
		var have []string
		for _, e := range entries {
			have = append(have, e.Name())
			got, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != files[e.Name()] {
				t.Errorf("%s/%s is not the generator's (go test ./node -run TestGossipFuzzCorpus -update rewrites it)", dir, e.Name())
			}
		}
		for name := range files {
			if !slices.Contains(have, name) {
				t.Errorf("%s/%s is missing (go test ./node -run TestGossipFuzzCorpus -update writes it)", dir, name)
			}
		}
	}
}

// corpusFile is a seed corpus file of the go fuzzing engine: its header,
// then each argument as a Go expression on its own line.
func corpusFile(first string, b []byte) string {
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	if first != "" {
		sb.WriteString(first + "\n")
	}
	sb.WriteString("[]byte(" + strconv.Quote(string(b)) + ")\n")
	return sb.String()
}
