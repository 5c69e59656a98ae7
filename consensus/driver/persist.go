package driver

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Keys of the driver's records in the store.
var (
	keyState      = []byte("consensus/state")
	payloadPrefix = []byte("consensus/payload/")
)

// payloadKey names the stored payload of a block the core is locked on or
// holds as valid: prefix, height u64, block id.
func payloadKey(height uint64, block consensus.Hash) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), payloadPrefix...), height)
	return append(k, block[:]...)
}

// StateKey is the store key of the persisted consensus state, for tools
// and tests that read it.
func StateKey() []byte { return append([]byte(nil), keyState...) }

// loadState reads the persisted safety state. A state for an earlier
// height is stale (that height committed after it was written) and
// ignored; one for a later height than the chain's next means the store
// lost committed blocks, and signing anything could conflict with what
// this validator signed before: refuse to start.
func (d *Driver) loadState(next uint64) (*consensus.State, error) {
	raw, err := d.store.Aux(keyState)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := consensus.DecodeState(raw)
	if err != nil {
		return nil, fmt.Errorf("driver: persisted consensus state: %w", err)
	}
	d.stateHeight = st.Height
	switch {
	case st.Height < next:
		return nil, nil
	case st.Height > next:
		return nil, fmt.Errorf("%w: consensus state is at height %d but the chain ends at %d; this validator may have signed at heights the store has lost, refusing to sign again", ErrUnsafeState, st.Height, next-1)
	}
	load := func(r uint64, block consensus.Hash) ([]byte, error) {
		if r == consensus.NoRound {
			return nil, nil
		}
		p, err := d.store.Aux(payloadKey(st.Height, block))
		if err != nil {
			return nil, fmt.Errorf("%w: payload of block %s at height %d: %v", ErrUnsafeState, block, st.Height, err)
		}
		d.written[block] = true
		return p, nil
	}
	if st.LockedPayload, err = load(st.LockedRound, st.LockedBlock); err != nil {
		return nil, err
	}
	if st.ValidPayload, err = load(st.ValidRound, st.ValidBlock); err != nil {
		return nil, err
	}
	return st, nil
}

// persist writes the core's state (when the Ready has one), with the payloads of the blocks it is
// locked on or holds as valid, in one synced batch; payloads of heights
// before it are deleted in the same batch. A state that records nothing
// (no lock, no valid block, nothing signed) is not written: losing it
// loses nothing, and a single validator, which commits in the same step it
// signs, then writes only its blocks.
func (d *Driver) persist(st *consensus.State) error {
	if st == nil {
		return nil
	}
	d.mu.Lock()
	d.status.Step = stepName(st.Step)
	d.status.LockedRound = st.LockedRound
	d.mu.Unlock()
	if st.LockedRound == consensus.NoRound && st.ValidRound == consensus.NoRound && len(st.Signed) == 0 {
		return nil
	}
	start := d.clock.Now()
	ws := []chain.AuxWrite{{Key: keyState, Value: consensus.EncodeState(st)}}
	if st.Height != d.stateHeight {
		clear(d.written)
		ws = append(ws, chain.AuxWrite{Key: payloadKey(0, consensus.Hash{}), End: payloadKey(st.Height, consensus.Hash{}), Delete: true})
		d.stateHeight = st.Height
	}
	keep := func(r uint64, block consensus.Hash, payload []byte) {
		if r != consensus.NoRound && !d.written[block] {
			ws = append(ws, chain.AuxWrite{Key: payloadKey(st.Height, block), Value: payload})
			d.written[block] = true
		}
	}
	keep(st.LockedRound, st.LockedBlock, st.LockedPayload)
	keep(st.ValidRound, st.ValidBlock, st.ValidPayload)
	if err := d.store.WriteAux(ws...); err != nil {
		return fmt.Errorf("driver: persist consensus state: %w", err)
	}
	d.m.PersistTime.Observe(d.clock.Now().Sub(start).Seconds())
	return nil
}
