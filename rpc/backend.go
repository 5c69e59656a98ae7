package rpc

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/bizra/node0/chain"
)

// Chain is the committed ledger as the API reads it. The node adapts
// chain.Chain and its store to it.
type Chain interface {
	Head() (chain.Header, chain.Hash)
	Account(addr chain.Address) (chain.Account, error)
	Rules() *chain.Rules
	Genesis() *chain.Genesis
	Block(height uint64) (*chain.Block, error)
	// Header reads a block's header alone.
	Header(height uint64) (*chain.Header, error)
	BlockHeight(hash chain.Hash) (uint64, error)
	Receipts(height uint64) ([]chain.Receipt, error)
	TxLocation(hash chain.Hash) (height uint64, index uint32, err error)
}

// Pool is the transaction pool as the API uses it.
type Pool interface {
	// Add admits a raw transaction, running every check.
	Add(raw []byte) (*chain.Tx, error)
	Get(hash chain.Hash) (*chain.Tx, bool)
	// PendingNonce is the nonce after the sender's pending transactions;
	// ok is false if the pool holds none of them.
	PendingNonce(addr chain.Address) (nonce uint64, ok bool)
	Len() int
	// Stats returns per-shard statistics, encoded as they are.
	Stats() any
}

// Node reports what only the node knows.
type Node interface {
	// Status answers bizra_status, but for Syncing and HighestBlock, which
	// the server fills in from Sync, and GenesisHash, which it hashed once.
	Status() Status
	// Sync reports whether the node is catching up with the network; the
	// node decides the rule. It answers eth_syncing and bizra_status.
	Sync() SyncStatus
	Validators() []Validator
	Peers() []Peer
	// Consensus reports the consensus engine's position.
	Consensus() Consensus
	// Certificate decodes a block's certificate.
	Certificate(raw []byte) (*Certificate, error)
}

// Consensus is the answer of bizra_consensus.
type Consensus struct {
	// Height and Round are being decided; Step is propose, prevote or
	// precommit.
	Height hexutil.Uint64 `json:"height"`
	Round  hexutil.Uint64 `json:"round"`
	Step   string         `json:"step"`
	Leader string         `json:"leader"`
	// LockedRound is the round of the block this validator is locked on,
	// null when it is not locked.
	LockedRound *hexutil.Uint64 `json:"lockedRound"`
	// LastCertificate certifies the newest committed block.
	LastCertificate *Certificate `json:"lastCertificate"`
	// Counters since the node started.
	Rounds              hexutil.Uint64 `json:"rounds"`
	Timeouts            hexutil.Uint64 `json:"timeouts"`
	TimeoutCertificates hexutil.Uint64 `json:"timeoutCertificates"`
	CertificatesFormed  hexutil.Uint64 `json:"certificatesFormed"`
	VotesReceived       hexutil.Uint64 `json:"votesReceived"`
	AggregatesReceived  hexutil.Uint64 `json:"aggregatesReceived"`
	BadSignatures       hexutil.Uint64 `json:"badSignatures"`
}

// Certificate is a decoded quorum certificate.
type Certificate struct {
	Type      string         `json:"type"`
	Height    hexutil.Uint64 `json:"height"`
	Round     hexutil.Uint64 `json:"round"`
	BlockHash chain.Hash     `json:"blockHash"`
	// Signers are the names of the validators whose votes it aggregates.
	Signers     []string       `json:"signers"`
	SignedStake hexutil.Uint64 `json:"signedStake"`
	TotalStake  hexutil.Uint64 `json:"totalStake"`
	Signature   hexutil.Bytes  `json:"signature"`
}

// Status is the answer of bizra_status.
type Status struct {
	ChainID     hexutil.Uint64 `json:"chainId"`
	GenesisHash chain.Hash     `json:"genesisHash"`
	Height      hexutil.Uint64 `json:"height"`
	Head        chain.Hash     `json:"head"`
	Round       hexutil.Uint64 `json:"round"`
	// Syncing and HighestBlock are the node's sync report (Node.Sync):
	// HighestBlock is the highest block the node knows of, its head when it
	// is not syncing.
	Syncing      bool           `json:"syncing"`
	HighestBlock hexutil.Uint64 `json:"highestBlock"`
	// Peers is the number of connected peers.
	Peers int `json:"peers"`
	// LastCertificate is the quorum certificate of the head block, empty
	// until the consensus engine produces certificates.
	LastCertificate hexutil.Bytes `json:"lastCertificate"`
	Validator       string        `json:"validator,omitempty"`
	Version         string        `json:"version"`
}

// Validator is one entry of bizra_validators.
type Validator struct {
	Name      string         `json:"name"`
	Address   chain.Address  `json:"address"`
	PubKey    hexutil.Bytes  `json:"blsPubkey"`
	Stake     hexutil.Uint64 `json:"stake"`
	Committee int            `json:"committee"`
	// Participation is the share of recent certificates the validator
	// signed; nil until certificates exist. Signed of Blocks counts them.
	Participation *float64 `json:"participation"`
	Signed        int      `json:"signed"`
	Blocks        int      `json:"blocks"`
}

// Peer is one entry of bizra_peers.
type Peer struct {
	ID         string         `json:"id"`
	Addrs      []string       `json:"addrs"`
	Inbound    bool           `json:"inbound"`
	Persistent bool           `json:"persistent"`
	Score      float64        `json:"score"`
	Height     hexutil.Uint64 `json:"height"`
}

// SyncStatus is the node's sync report. While Syncing, the node's head
// (CurrentBlock) is further behind the highest block it knows of
// (HighestBlock) than the node allows, and StartingBlock is where it was
// when it began to catch up; otherwise CurrentBlock and HighestBlock are
// normally both the head, and StartingBlock means nothing.
type SyncStatus struct {
	Syncing       bool
	StartingBlock uint64
	CurrentBlock  uint64
	HighestBlock  uint64
}

// syncProgress is the JSON of a node that is syncing, as Ethereum clients
// (ethers, viem, go-ethereum's ethclient) parse eth_syncing's answer.
type syncProgress struct {
	StartingBlock hexutil.Uint64 `json:"startingBlock"`
	CurrentBlock  hexutil.Uint64 `json:"currentBlock"`
	HighestBlock  hexutil.Uint64 `json:"highestBlock"`
}

// MarshalJSON is eth_syncing's answer: false when not syncing, otherwise
// {"startingBlock", "currentBlock", "highestBlock"} as hex quantities.
func (st SyncStatus) MarshalJSON() ([]byte, error) {
	if !st.Syncing {
		return []byte("false"), nil
	}
	return json.Marshal(syncProgress{hexutil.Uint64(st.StartingBlock), hexutil.Uint64(st.CurrentBlock), hexutil.Uint64(st.HighestBlock)})
}

// UnmarshalJSON reads eth_syncing's answer.
func (st *SyncStatus) UnmarshalJSON(b []byte) error {
	var syncing bool
	if json.Unmarshal(b, &syncing) == nil && !syncing {
		*st = SyncStatus{}
		return nil
	}
	var p syncProgress
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("rpc: eth_syncing answer %s: %w", b, err)
	}
	*st = SyncStatus{Syncing: true, StartingBlock: uint64(p.StartingBlock), CurrentBlock: uint64(p.CurrentBlock), HighestBlock: uint64(p.HighestBlock)}
	return nil
}
