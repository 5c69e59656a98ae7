package node

import (
	"fmt"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// VerifyCertificates checks that every block of a store above genesis
// carries a precommit certificate for its own hash and height, signed by
// more than two thirds of the genesis validators' stake, whose aggregate
// signature verifies. It returns how many it checked. Together with
// chain.Verify it is what `bizra verify` runs on a stopped node.
func VerifyCertificates(store *chain.Store, g *chain.Genesis) (int, error) {
	vals, err := validatorSet(g)
	if err != nil {
		return 0, err
	}
	crypto, err := consensus.NewBLSCrypto(nil, vals)
	if err != nil {
		return 0, err
	}
	head, ok, err := store.Head()
	if err != nil || !ok {
		return 0, err
	}
	tag := g.Hash()
	for h := uint64(1); h <= head; h++ {
		blk, err := store.Block(h)
		if err != nil {
			return int(h - 1), err
		}
		if _, err := checkCertificate(blk, tag, vals, crypto); err != nil {
			return int(h - 1), err
		}
	}
	return int(head), nil
}

// checkCertificate checks that a committed block carries a precommit
// certificate for its own hash and height, signed by more than two thirds
// of the stake, whose aggregate signature verifies.
func checkCertificate(blk *chain.Block, tag chain.Hash, vals *consensus.ValidatorSet, crypto consensus.Crypto) (*consensus.QC, error) {
	h := blk.Header.Height
	qc, err := consensus.DecodeQC(blk.Cert)
	if err != nil {
		return nil, fmt.Errorf("block %d certificate: %w", h, err)
	}
	if qc.Type != consensus.Precommit || qc.Height != h || qc.BlockID != blk.Hash() {
		return nil, fmt.Errorf("block %d: certificate is a %s for height %d block %s", h, qc.Type, qc.Height, qc.BlockID)
	}
	if err := consensus.VerifyQC(tag, vals, crypto, qc); err != nil {
		return nil, fmt.Errorf("block %d certificate: %w", h, err)
	}
	return qc, nil
}
