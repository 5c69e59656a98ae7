package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"
)

// Lengths of the BLS values a genesis validator carries (compressed
// BLS12-381 G1 public key and G2 signature). The consensus package checks
// that they decode and that the proof of possession verifies.
const (
	BLSPublicKeySize = 48
	BLSSignatureSize = 96
)

// Genesis limits on what a genesis file may ask for.
const (
	// MaxTotalStake bounds the sum of stakes, so that quorum arithmetic
	// (3 × stake) never overflows 64 bits.
	MaxTotalStake    = 1 << 60
	MinBlockTime     = 10 * time.Millisecond
	MaxBlockTime     = time.Hour
	MaxBlockTxsLimit = 1_000_000
	MinMaxTxBytes    = 128
	MaxMaxTxBytes    = 128 * 1024
	MaxCommittees    = 1024
	MaxEpochLength   = 100_000_000
)

// Genesis describes a chain at height 0. It is read from a JSON file; the
// Keccak-256 of its canonical JSON (see Hash) identifies the chain.
type Genesis struct {
	ChainID     uint64             `json:"chain_id"`
	GenesisTime time.Time          `json:"genesis_time"`
	BlockTime   Duration           `json:"block_time"`
	Limits      Limits             `json:"limits"`
	Consensus   ConsensusParams    `json:"consensus"`
	Validators  []GenesisValidator `json:"validators"`
	Accounts    []GenesisAccount   `json:"accounts"`
}

// ConsensusParams shape the consensus protocol (package consensus).
type ConsensusParams struct {
	// Committees is how many committees aggregate votes. With fewer than
	// four validators per committee on average there is one committee and
	// votes go straight to the round's leader.
	Committees int `json:"committees"`
	// EpochLength is how many blocks an assignment of validators to
	// committees lasts before it is reshuffled.
	EpochLength uint64 `json:"epoch_length"`
}

// DefaultConsensusParams returns the parameters of `bizra init` and the
// devnet: one committee per 100 validators would be the rule for large
// sets; a new chain starts with one, reshuffled every 1,000 blocks.
func DefaultConsensusParams() ConsensusParams {
	return ConsensusParams{Committees: 1, EpochLength: 1000}
}

// Limits bound blocks and transactions.
type Limits struct {
	BlockGasLimit uint64 `json:"block_gas_limit"`
	BlockMaxTxs   int    `json:"block_max_txs"`
	MaxTxBytes    int    `json:"max_tx_bytes"`
	MinGasPrice   U256   `json:"min_gas_price"` // wei; also the constant base fee
}

// DefaultLimits returns the limits used by `bizra init` and the devnet:
// 20,000 transfers per block, 1 KiB per transaction (a signed transfer is
// about 110 bytes), a minimum gas price of 1 gwei.
func DefaultLimits() Limits {
	return Limits{
		BlockGasLimit: 20_000 * TransferGas,
		BlockMaxTxs:   20_000,
		MaxTxBytes:    1024,
		MinGasPrice:   U256{*uint256.NewInt(1_000_000_000)},
	}
}

// GenesisValidator is a member of the initial validator set.
type GenesisValidator struct {
	Name string `json:"name"`
	// Address receives the fees of the blocks this validator proposes.
	Address Address `json:"address"`
	// PubKey is the compressed BLS12-381 public key that signs votes.
	PubKey hexutil.Bytes `json:"bls_pubkey"`
	// ProofOfPossession is a BLS signature proving control of PubKey.
	ProofOfPossession hexutil.Bytes `json:"bls_pop"`
	Stake             uint64        `json:"stake"`
}

// GenesisAccount is a prefunded account.
type GenesisAccount struct {
	Address Address `json:"address"`
	Balance U256    `json:"balance"` // wei
}

// ParseGenesis decodes a genesis JSON document strictly (unknown fields are
// errors) and validates it.
func ParseGenesis(data []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	g := new(Genesis)
	if err := dec.Decode(g); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidGenesis, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidGenesis)
	}
	g.GenesisTime = g.GenesisTime.UTC()
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// LoadGenesis reads and parses a genesis file.
func LoadGenesis(path string) (*Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("chain: read genesis: %w", err)
	}
	g, err := ParseGenesis(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Encode returns the canonical JSON of the genesis, indented for people.
func (g *Genesis) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Save writes the genesis to path.
func (g *Genesis) Save(path string) error {
	b, err := g.Encode()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Hash identifies the chain: Keccak-256 of the compact canonical JSON, in
// which every field appears once, in a fixed order, with the genesis time
// as unix milliseconds and amounts as decimal strings. Formatting of the
// file does not matter.
func (g *Genesis) Hash() Hash {
	type view struct {
		ChainID     uint64             `json:"chain_id"`
		GenesisTime int64              `json:"genesis_time_ms"`
		BlockTime   Duration           `json:"block_time"`
		Limits      Limits             `json:"limits"`
		Consensus   ConsensusParams    `json:"consensus"`
		Validators  []GenesisValidator `json:"validators"`
		Accounts    []GenesisAccount   `json:"accounts"`
	}
	b, err := json.Marshal(view{g.ChainID, g.GenesisTime.UnixMilli(), g.BlockTime, g.Limits, g.Consensus, g.Validators, g.Accounts})
	if err != nil {
		// Every field is a number, string, byte slice or one of the
		// package's own types, which always encode.
		panic(fmt.Sprintf("chain: genesis does not encode: %v", err))
	}
	return Keccak256(b)
}

// Rules returns the stateless transaction rules of the chain.
func (g *Genesis) Rules() *Rules {
	return NewRules(g.ChainID, &g.Limits.MinGasPrice.Int, g.Limits.MaxTxBytes)
}

// TotalStake returns the sum of validator stakes.
func (g *Genesis) TotalStake() uint64 {
	var s uint64
	for _, v := range g.Validators {
		s += v.Stake
	}
	return s
}

// Validate reports every problem at once. It never changes the genesis.
func (g *Genesis) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if g.ChainID == 0 {
		bad("chain_id must be positive")
	}
	if g.GenesisTime.IsZero() {
		bad("genesis_time is required")
	} else if y := g.GenesisTime.UTC().Year(); y < 1970 || y > 9999 {
		bad("genesis_time %s is out of range (years 1970 to 9999, in UTC)", g.GenesisTime)
	} else if g.GenesisTime.Nanosecond()%int(time.Millisecond) != 0 {
		bad("genesis_time %s has a part below one millisecond", g.GenesisTime.Format(time.RFC3339Nano))
	}
	if bt := g.BlockTime.Duration; bt < MinBlockTime || bt > MaxBlockTime {
		bad("block_time %s must be between %s and %s", bt, MinBlockTime, MaxBlockTime)
	}
	l := g.Limits
	if l.BlockGasLimit < TransferGas {
		bad("limits.block_gas_limit %d is below one transfer (%d)", l.BlockGasLimit, TransferGas)
	}
	if l.BlockMaxTxs < 1 || l.BlockMaxTxs > MaxBlockTxsLimit {
		bad("limits.block_max_txs %d must be between 1 and %d", l.BlockMaxTxs, MaxBlockTxsLimit)
	}
	if l.MaxTxBytes < MinMaxTxBytes || l.MaxTxBytes > MaxMaxTxBytes {
		bad("limits.max_tx_bytes %d must be between %d and %d", l.MaxTxBytes, MinMaxTxBytes, MaxMaxTxBytes)
	}
	if c := g.Consensus.Committees; c < 1 || c > MaxCommittees {
		bad("consensus.committees %d must be between 1 and %d", c, MaxCommittees)
	}
	if e := g.Consensus.EpochLength; e < 1 || e > MaxEpochLength {
		bad("consensus.epoch_length %d must be between 1 and %d blocks", e, MaxEpochLength)
	}
	if n := len(g.Validators); n == 0 || n > MaxValidators {
		bad("validators: %d validators; between 1 and %d are required", n, MaxValidators)
	}
	names := map[string]bool{}
	keys := map[string]bool{}
	addrs := map[Address]bool{}
	var total uint64
	for i, v := range g.Validators {
		at := fmt.Sprintf("validators[%d]", i)
		if v.Stake > MaxTotalStake {
			bad("%s.stake %d exceeds %d", at, v.Stake, uint64(MaxTotalStake))
		}
		if strings.TrimSpace(v.Name) == "" {
			bad("%s.name is required", at)
		} else if names[v.Name] {
			bad("%s.name %q is used twice", at, v.Name)
		}
		names[v.Name] = true
		if v.Address == (Address{}) {
			bad("%s.address is required (it receives the validator's fees)", at)
		} else if addrs[v.Address] {
			bad("%s.address %s is used twice", at, v.Address)
		}
		addrs[v.Address] = true
		if len(v.PubKey) != BLSPublicKeySize {
			bad("%s.bls_pubkey is %d bytes, want %d", at, len(v.PubKey), BLSPublicKeySize)
		} else if keys[string(v.PubKey)] {
			bad("%s.bls_pubkey is used twice", at)
		}
		keys[string(v.PubKey)] = true
		if len(v.ProofOfPossession) != BLSSignatureSize {
			bad("%s.bls_pop is %d bytes, want %d", at, len(v.ProofOfPossession), BLSSignatureSize)
		}
		if v.Stake == 0 {
			bad("%s.stake must be positive", at)
		}
		if total += min(v.Stake, MaxTotalStake); total > MaxTotalStake {
			bad("%s.stake: total stake exceeds %d", at, uint64(MaxTotalStake))
			total = MaxTotalStake
		}
	}
	seen := map[Address]bool{}
	var supply uint256.Int
	for i, a := range g.Accounts {
		at := fmt.Sprintf("accounts[%d]", i)
		if seen[a.Address] {
			bad("%s.address %s is listed twice", at, a.Address)
		}
		seen[a.Address] = true
		if a.Balance.IsZero() {
			bad("%s.balance must be positive", at)
		}
		if _, overflow := supply.AddOverflow(&supply, &a.Balance.Int); overflow {
			bad("%s.balance: total supply exceeds 2^256-1", at)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidGenesis, errors.Join(errs...))
}

// Block returns the block at height 0: no transactions, the prefunded
// accounts as state, and the genesis hash as parent, so that the chain's
// identity flows into every block hash.
func (g *Genesis) Block() (*Block, []AccountChange) {
	changes := g.accountChanges()
	var zero Lattice
	lat := UpdateLattice(&zero, changes)
	return &Block{Header: Header{
		ChainID:      g.ChainID,
		Height:       0,
		Timestamp:    uint64(g.GenesisTime.UnixMilli()),
		ParentHash:   g.Hash(),
		TxRoot:       EmptyRoot,
		StateRoot:    lat.Root(),
		ReceiptsRoot: EmptyRoot,
	}}, changes
}

func (g *Genesis) accountChanges() []AccountChange {
	changes := make([]AccountChange, len(g.Accounts))
	for i, a := range g.Accounts {
		changes[i] = AccountChange{Addr: a.Address, After: Account{Balance: a.Balance.Int}}
	}
	return changes
}

// U256 is a 256-bit unsigned integer that reads and writes JSON as a
// decimal string; reading also accepts 0x-prefixed hex.
type U256 struct{ uint256.Int }

// MarshalJSON writes a quoted decimal string.
func (u U256) MarshalJSON() ([]byte, error) {
	return []byte(`"` + u.Dec() + `"`), nil
}

// UnmarshalJSON reads a quoted decimal or 0x-hex string.
func (u *U256) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("amount must be a quoted decimal string, got %s", b)
	}
	v, err := ParseU256(s)
	if err != nil {
		return err
	}
	u.Int = v
	return nil
}

// ParseU256 parses a decimal or 0x-hex unsigned 256-bit integer.
func ParseU256(s string) (uint256.Int, error) {
	var v uint256.Int
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if err := v.SetFromHex(s); err != nil {
			return v, fmt.Errorf("amount %q: %v", s, err)
		}
		return v, nil
	}
	if err := v.SetFromDecimal(s); err != nil {
		return v, fmt.Errorf("amount %q: %v", s, err)
	}
	return v, nil
}

// Duration reads and writes JSON as a Go duration string such as "1s".
type Duration struct{ time.Duration }

// MarshalJSON writes a quoted duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a quoted duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a quoted string such as \"1s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}
