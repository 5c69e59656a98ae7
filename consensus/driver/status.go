package driver

import (
	"math/bits"

	"github.com/bizra/node0/consensus"
)

// Status is a snapshot of a driver for JSON-RPC, metrics and logs.
type Status struct {
	Height      uint64 // height being decided
	Round       uint64
	Step        string // propose, prevote or precommit
	Leader      uint32
	LockedRound uint64 // consensus.NoRound when not locked
	LastCommit  *consensus.QC
	Committees  *consensus.Committees // of the current epoch; never changed in place
	Stats       consensus.Stats
}

// Status returns a snapshot; it may be called from any goroutine.
func (d *Driver) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

func stepName(s consensus.Step) string {
	switch s {
	case consensus.StepPropose:
		return "propose"
	case consensus.StepPrevote:
		return "prevote"
	case consensus.StepPrecommit:
		return "precommit"
	}
	return "unknown"
}

// snapshot publishes the core's position and counters, when they changed
// since the last snapshot (it runs after every step and tick).
func (d *Driver) snapshot() {
	st := d.core.Stats()
	pos := published{height: d.core.Height(), round: d.core.Round(), stats: st}
	if pos == d.published {
		return
	}
	d.published = pos
	d.mu.Lock()
	d.status.Height = d.core.Height()
	d.status.Round = d.core.Round()
	d.status.Leader = d.core.Leader()
	d.status.Committees = d.core.Committees()
	d.status.Stats = st
	if d.status.Step == "" {
		d.status.Step = stepName(consensus.StepPropose)
		d.status.LockedRound = consensus.NoRound
	}
	d.mu.Unlock()
	d.m.setStats(st, d.core.Height(), d.core.Round())
}

// published is what the last snapshot published.
type published struct {
	height, round uint64
	stats         consensus.Stats
}

// participationWindow is how many recent certificates participation is
// counted over.
const participationWindow = 1000

// participation counts, per validator, the certificates it signed among the
// last window committed blocks (since the driver started).
type participation struct {
	window  int
	ring    []consensus.Bitmap
	next    int
	filled  int
	signed  []int
	lastSet consensus.Bitmap
}

func newParticipation(n, window int) *participation {
	return &participation{window: window, ring: make([]consensus.Bitmap, window), signed: make([]int, n)}
}

func (p *participation) add(b consensus.Bitmap) {
	if old := p.ring[p.next]; old != nil {
		p.count(old, -1)
	} else {
		p.filled++
	}
	p.count(b, 1)
	p.ring[p.next] = b
	p.next = (p.next + 1) % p.window
	p.lastSet = b
}

// count adds d to the count of every member of b.
func (p *participation) count(b consensus.Bitmap, d int) {
	for i, x := range b {
		for x != 0 {
			if v := i*8 + bits.TrailingZeros8(x); v < len(p.signed) {
				p.signed[v] += d
			}
			x &= x - 1
		}
	}
}

// Participation is, per validator, how many of the last Blocks committed
// certificates it signed.
type Participation struct {
	Blocks int
	Signed []int
	Last   consensus.Bitmap // signers of the newest certificate
}

// Participation returns the counts over the window; it may be called from
// any goroutine.
func (d *Driver) Participation() Participation {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Participation{Blocks: d.part.filled, Signed: append([]int(nil), d.part.signed...), Last: d.part.lastSet.Clone()}
}
