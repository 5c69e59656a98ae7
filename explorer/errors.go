package explorer

import "errors"

var (
	// ErrForkDetected is returned by the indexer when a block's parent hash
	// is not the hash of the block indexed before it. Nothing is written.
	ErrForkDetected = errors.New("explorer: parent hash mismatch (fork or a different chain); refusing to index")
	// ErrOtherChain means the database holds the index of another chain.
	ErrOtherChain = errors.New("explorer: the database indexes another chain")
	// ErrNotFound is returned for a block, transaction or validator the index
	// does not have.
	ErrNotFound = errors.New("explorer: not found")
)
