package explorer

import "math"

// window keeps the last size indexed blocks' proposers and signers, and the
// counts reputation is computed from (see the package documentation).
type window struct {
	size      int
	ring      []winEntry
	start     int // index of the oldest entry
	n         int
	proposed  map[string]int // by validator id
	signed    map[string]int // by validator name
	certified int            // blocks in the window with a certificate
}

type winEntry struct {
	// proposer counts only for a block with a certificate (genesis has
	// neither a certificate nor a real proposer).
	proposer string
	signers  []string
}

func newWindow(size int) *window {
	return &window{size: size, ring: make([]winEntry, size), proposed: map[string]int{}, signed: map[string]int{}}
}

func (w *window) clone() *window {
	c := *w
	c.ring = append([]winEntry(nil), w.ring...)
	c.proposed = make(map[string]int, len(w.proposed))
	for k, v := range w.proposed {
		c.proposed[k] = v
	}
	c.signed = make(map[string]int, len(w.signed))
	for k, v := range w.signed {
		c.signed[k] = v
	}
	return &c
}

// add appends a block, dropping the oldest when the window is full.
func (w *window) add(proposer string, signers []string) {
	if w.n == w.size {
		old := w.ring[w.start]
		if len(old.signers) > 0 {
			w.certified--
			if w.proposed[old.proposer]--; w.proposed[old.proposer] == 0 {
				delete(w.proposed, old.proposer)
			}
		}
		for _, s := range old.signers {
			if w.signed[s]--; w.signed[s] == 0 {
				delete(w.signed, s)
			}
		}
		w.start = (w.start + 1) % w.size
		w.n--
	}
	w.ring[(w.start+w.n)%w.size] = winEntry{proposer: proposer, signers: signers}
	w.n++
	if len(signers) > 0 {
		w.proposed[proposer]++
		w.certified++
	}
	for _, s := range signers {
		w.signed[s]++
	}
}

// score returns a validator's participation (nil before any certificate)
// and reputation, given its share of the total stake.
func (w *window) score(id, name string, share float64) (*float64, float64) {
	var part *float64
	p := 0.0
	if w.certified > 0 {
		p = float64(w.signed[name]) / float64(w.certified)
		part = &p
	}
	q := 0.0
	if expected := share * float64(w.certified); expected > 0 {
		q = math.Min(1, float64(w.proposed[id])/expected)
	}
	rep := math.Round(100*(0.7*p+0.3*q)*100) / 100
	return part, rep
}
