package chain

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// AuxWrite is one change to the auxiliary table: records that other
// subsystems keep durable in the node's store but that are not part of the
// chain, such as the consensus engine's safety state. Set writes Value at
// Key; Delete removes Key, or with End the range [Key, End).
type AuxWrite struct {
	Key    []byte
	Value  []byte
	Delete bool
	End    []byte
}

// WriteAux applies the writes in one synced batch: all of them are durable
// when it returns, or none after a crash.
func (s *Store) WriteAux(ws ...AuxWrite) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	for _, w := range ws {
		var err error
		switch {
		case w.Delete && w.End != nil:
			err = b.DeleteRange(auxKey(w.Key), auxKey(w.End), nil)
		case w.Delete:
			err = b.Delete(auxKey(w.Key), nil)
		default:
			err = b.Set(auxKey(w.Key), w.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("chain: aux batch: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("chain: aux write: %w", err)
	}
	return nil
}

// Aux returns a copy of the auxiliary record at key, or ErrNotFound.
func (s *Store) Aux(key []byte) ([]byte, error) { return s.get(auxKey(key)) }
