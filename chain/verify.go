package chain

import (
	"errors"
	"fmt"
)

// VerifyReport summarises a successful Verify.
type VerifyReport struct {
	Height   uint64 // last committed height
	Txs      uint64 // transactions replayed
	Accounts int    // non-empty accounts in the final state
}

// Verify replays a whole store from its genesis and checks that it is
// consistent: every block from 0 to the head is present, links to its
// parent, is indexed by hash, re-executes to the roots in its header and to
// the receipts stored for it, and has every transaction indexed at its
// position; the stored accounts and state sum equal the replayed ones; and
// nothing is stored above the head. It recovers every sender, so it costs
// about as much as executing the chain again. The store must not be written
// while Verify runs.
func Verify(store *Store, g *Genesis) (VerifyReport, error) {
	var rep VerifyReport
	head, ok, err := store.Head()
	if err != nil {
		return rep, err
	}
	if !ok {
		return rep, fmt.Errorf("%w: empty store", ErrNotFound)
	}
	gh, err := store.GenesisHash()
	if err != nil {
		return rep, fmt.Errorf("%w: no genesis hash: %v", ErrCorruptStore, err)
	}
	if gh != g.Hash() {
		return rep, fmt.Errorf("%w: store has %s, genesis file has %s", ErrGenesisMismatch, gh, g.Hash())
	}
	// A chain that reads an in-memory replay state instead of the store.
	c := &Chain{genesis: g, rules: g.Rules(), metrics: NopMetrics(), validators: map[Address]bool{}}
	for _, v := range g.Validators {
		c.validators[v.Address] = true
	}
	state := mapReader{}
	gblk, changes := g.Block()
	var zero Lattice
	lat := UpdateLattice(&zero, changes)
	for _, ch := range changes {
		state[ch.Addr] = ch.After
	}
	stored0, err := store.Block(0)
	if err != nil {
		return rep, fmt.Errorf("block 0: %w", err)
	}
	if stored0.Hash() != gblk.Hash() {
		return rep, fmt.Errorf("%w: block 0 is not the genesis block", ErrCorruptStore)
	}
	parent, parentH := gblk.Header, gblk.Hash()
	if err := checkIndexed(store, 0, parentH, nil); err != nil {
		return rep, err
	}
	for h := uint64(1); h <= head; h++ {
		blk, err := store.Block(h)
		if err != nil {
			return rep, fmt.Errorf("%w: block %d: %v", ErrCorruptStore, h, err)
		}
		p, err := c.execute(&parent, parentH, &lat, state, blk, nil)
		if err != nil {
			return rep, fmt.Errorf("%w: %v", ErrCorruptStore, err)
		}
		stored, err := store.Receipts(h)
		if err != nil {
			return rep, fmt.Errorf("%w: receipts %d: %v", ErrCorruptStore, h, err)
		}
		if len(stored) != len(p.Receipts) {
			return rep, fmt.Errorf("%w: block %d has %d receipts stored, %d replayed", ErrCorruptStore, h, len(stored), len(p.Receipts))
		}
		for i := range stored {
			if stored[i] != p.Receipts[i] {
				return rep, fmt.Errorf("%w: block %d receipt %d differs from replay", ErrCorruptStore, h, i)
			}
		}
		bh := blk.Hash()
		if err := checkIndexed(store, h, bh, p.txHashes); err != nil {
			return rep, err
		}
		for _, ch := range p.changes {
			if ch.After.IsEmpty() {
				delete(state, ch.Addr)
			} else {
				state[ch.Addr] = ch.After
			}
		}
		lat = p.lattice
		parent, parentH = blk.Header, bh
		rep.Txs += uint64(len(blk.Txs))
	}
	if _, err := store.Block(head + 1); !errors.Is(err, ErrNotFound) {
		return rep, fmt.Errorf("%w: a block is stored above head %d", ErrCorruptStore, head)
	}
	storedLat, err := store.Lattice()
	if err != nil {
		return rep, err
	}
	if *storedLat != lat {
		return rep, fmt.Errorf("%w: stored state sum differs from replay", ErrCorruptStore)
	}
	n := 0
	var bad error
	err = store.ForEachAccount(func(a Address, acct Account) bool {
		n++
		if want, ok := state[a]; !ok || want != acct {
			bad = fmt.Errorf("%w: account %s stored as %d/%s, replay has %d/%s", ErrCorruptStore, a, acct.Nonce, acct.Balance.Dec(), want.Nonce, want.Balance.Dec())
			return false
		}
		return true
	})
	if err != nil {
		return rep, err
	}
	if bad != nil {
		return rep, bad
	}
	if n != len(state) {
		return rep, fmt.Errorf("%w: %d accounts stored, %d replayed", ErrCorruptStore, n, len(state))
	}
	rep.Height, rep.Accounts = head, n
	return rep, nil
}

func checkIndexed(store *Store, h uint64, bh Hash, txs []Hash) error {
	if got, err := store.BlockHeight(bh); err != nil || got != h {
		return fmt.Errorf("%w: hash index of block %d: %d, %v", ErrCorruptStore, h, got, err)
	}
	for i, th := range txs {
		gh, gi, err := store.TxLocation(th)
		if err != nil || gh != h || gi != uint32(i) {
			return fmt.Errorf("%w: tx index of %s: (%d, %d, %v), want (%d, %d)", ErrCorruptStore, th, gh, gi, err, h, i)
		}
	}
	return nil
}

// mapReader is an in-memory StateReader.
type mapReader map[Address]Account

func (m mapReader) Account(a Address) (Account, error) { return m[a], nil }
