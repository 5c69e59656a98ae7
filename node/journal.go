package node

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

// openJournal opens the mempool journal, if the config turns it on, and
// admits its transactions to the pool again: those that became invalid
// while the node was down are dropped, the rest are kept for gossip once
// the network runs (they may have been answered and never gossiped). It
// logs what it replayed and dropped, and why.
func (n *Node) openJournal(o Options) error {
	cfg := &n.cfg
	if !cfg.Mempool.Journal {
		return nil
	}
	path := cfg.Path(cfg.Mempool.JournalFile)
	j, rep, err := mempool.OpenJournal(path, n.pool, mempool.JournalOptions{
		Metrics: mempool.NewJournalMetrics(n.reg), Logger: o.Logger,
	})
	if err != nil {
		return fmt.Errorf("node: mempool journal: %w", err)
	}
	n.journal, n.replayed = j, rep.Admitted
	args := []any{"file", path, "records", rep.Records, "replayed", len(rep.Admitted), "dropped", rep.DroppedTotal(), "took", rep.Took.Round(time.Millisecond)}
	reasons := make([]string, 0, len(rep.Dropped))
	for r := range rep.Dropped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		args = append(args, "dropped_"+r, rep.Dropped[r])
	}
	if len(reasons) > 0 {
		args = append(args, "example", rep.Example(reasons[0]).Error())
	}
	if rep.Cut > 0 {
		args = append(args, "cut_at", rep.Cut, "cut_reason", rep.CutWhy, "torn", rep.Torn)
	}
	n.log.Info("mempool journal replayed", args...)
	return nil
}

// journalGossip is the service that gossips the transactions the journal
// admitted again at start, once the network runs and has a peer (or after
// journalGossipWait without one: the node proposes them itself when it
// leads a round). It runs once; a later Start does nothing.
type journalGossip struct {
	n    *Node
	log  *slog.Logger
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

const journalGossipWait = 30 * time.Second

func newJournalGossip(n *Node, log *slog.Logger) *journalGossip {
	return &journalGossip{n: n, log: log.With("module", "node")}
}

func (g *journalGossip) Name() string { return "journal-gossip" }

func (g *journalGossip) Start(context.Context) error {
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	started := false
	g.once.Do(func() {
		started = true
		go g.run()
	})
	if !started {
		close(g.done)
	}
	return nil
}

func (g *journalGossip) Stop() error {
	close(g.stop)
	<-g.done
	return nil
}

func (g *journalGossip) run() {
	defer close(g.done)
	net := g.n.net
	deadline := time.NewTimer(journalGossipWait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(net.Peers()) == 0 {
		select {
		case <-g.stop:
			return
		case <-deadline.C:
			g.log.Warn("no peer to gossip the journal's transactions to; they stay in this node's pool", "txs", len(g.n.replayed))
			return
		case <-tick.C:
		}
	}
	sent := 0
	for _, tx := range g.n.replayed {
		if _, ok := g.n.pool.Get(tx.Hash); ok { // not committed or dropped meanwhile
			net.GossipTx(tx.Raw)
			sent++
		}
	}
	g.n.replayed = nil
	g.log.Info("gossiped the transactions the journal replayed", "txs", sent)
}

// journaled is rpcPool's journal step: after the pool admitted tx, it is
// appended to the journal (written and fsynced) before it is gossiped and
// answered. If the append fails the transaction leaves the pool again, so
// that what the client is told was not accepted is neither gossiped nor
// proposed by this node, and the error goes to the client.
func journaled(j *mempool.Journal, p *mempool.Pool, tx *chain.Tx) error {
	if j == nil {
		return nil
	}
	if err := j.Append(tx); err != nil {
		p.Remove(tx.Hash)
		return err
	}
	return nil
}
