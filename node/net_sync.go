package node

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Tuning of block sync.
const (
	// syncWindow is how many heights one Sync call covers; the next call
	// starts from where the chain is by then.
	syncWindow = 1024
	// catchUpCheck is how often the node compares its height with its
	// peers'.
	catchUpCheck = time.Second
	// syncInbox is the number of fetched blocks waiting for the driver.
	syncInbox = 128
)

// blockSync fetches committed blocks from peers when this node is behind
// (after a restart, a crash or a partition, or when the driver asks) and
// serves its own. Every fetched block's certificate is checked before the
// driver sees it, so that a peer serving a bad block is disconnected by
// the sync and the range fetched from another; the driver's core checks it
// again as it commits.
type blockSync struct {
	chain  *chain.Chain
	tag    consensus.Hash
	vals   *consensus.ValidatorSet
	crypto consensus.Crypto
	log    *slog.Logger
	blocks chan *chain.Block // lives across runs

	fetching atomic.Bool
}

func newBlockSync(c *chain.Chain, tag consensus.Hash, vals *consensus.ValidatorSet, crypto consensus.Crypto, log *slog.Logger) *blockSync {
	return &blockSync{chain: c, tag: tag, vals: vals, crypto: crypto, log: log, blocks: make(chan *chain.Block, syncInbox)}
}

func (s *blockSync) head() uint64 {
	h, _ := s.chain.Head()
	return h.Height
}

// start catches up whenever peers advertise a height beyond ours.
func (s *blockSync) start(run *netRun) {
	run.every(catchUpCheck, func() {
		if head := s.head(); run.host.BestHeight() > head+1 {
			s.request(run, head+1)
		}
	})
}

// serve answers a peer's sync request: the committed blocks from height
// from, at most max and at most maxBytes together, as the store holds
// them (encoded, never decoded here). It stops before the first block
// that would pass maxBytes, which it has read.
func (s *blockSync) serve(from uint64, max, maxBytes int) ([][]byte, error) {
	var out [][]byte
	total := 0
	head := s.head()
	for h := from; h <= head && len(out) < max; h++ {
		raw, err := s.chain.Store().RawBlock(h)
		if err != nil {
			return out, err
		}
		if total+len(raw) > maxBytes {
			break
		}
		total += len(raw)
		out = append(out, raw)
	}
	return out, nil
}

// request fetches committed blocks from height on, from any peer that has
// them, and keeps fetching while peers are ahead. One fetch runs at a
// time; nothing while stopped.
func (s *blockSync) request(run *netRun, height uint64) {
	if run == nil || !s.fetching.CompareAndSwap(false, true) {
		return
	}
	run.wg.Add(1)
	go func() {
		defer run.wg.Done()
		defer s.fetching.Store(false)
		s.fetchFrom(run, height)
	}()
}

// fetchFrom syncs blocks from height on, while peers are ahead: batches
// fetched in parallel from several peers, handed to the driver in height
// order.
func (s *blockSync) fetchFrom(run *netRun, height uint64) {
	for range 1000 {
		best := run.host.BestHeight()
		if run.ctx.Err() != nil || best < height {
			return
		}
		to := min(best, height+syncWindow-1)
		last, err := run.host.Sync(run.ctx, height, to, func(h uint64, raw []byte) error {
			blk, err := chain.DecodeBlock(raw)
			if err != nil {
				return err
			}
			if blk.Header.Height != h {
				return fmt.Errorf("block of height %d for height %d", blk.Header.Height, h)
			}
			if _, err := checkCertificate(blk, s.tag, s.vals, s.crypto); err != nil {
				return err
			}
			select {
			case s.blocks <- blk:
				return nil
			case <-run.ctx.Done():
				return run.ctx.Err()
			}
		})
		if err != nil {
			s.log.Debug("block sync stopped", "from", height, "to", to, "applied", last, "err", err)
			return
		}
		height = last + 1
	}
}
