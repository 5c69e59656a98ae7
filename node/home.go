package node

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

// Defaults of `bizra init`.
const (
	DefaultChainID = 1337
	DefaultStake   = 100
	// FeeKeyFile holds the key of the fee recipient when init generates one.
	FeeKeyFile = "fee_key.json"
)

// DevBalance is what each dev account holds at genesis: one million coins of
// 10^18 wei.
var DevBalance = new(uint256.Int).Mul(uint256.NewInt(1_000_000), uint256.NewInt(1_000_000_000_000_000_000))

// DevAccount is a deterministic development account. Its key is public
// knowledge: never fund it on a chain that matters.
type DevAccount struct {
	Address chain.Address
	Key     *ecdsa.PrivateKey
}

// PrivateKeyHex returns the 0x-prefixed private key.
func (a DevAccount) PrivateKeyHex() string { return hexutil.Encode(crypto.FromECDSA(a.Key)) }

// DevAccounts returns the first n dev accounts. Account i has the private key
// keccak256("bizra/devnet/account" || uint32 i), so every devnet funds the
// same well-known addresses and tools can hard-code them.
func DevAccounts(n int) []DevAccount {
	out := make([]DevAccount, 0, n)
	for i := 0; len(out) < n; i++ {
		var idx [4]byte
		binary.BigEndian.PutUint32(idx[:], uint32(i))
		seed := crypto.Keccak256([]byte("bizra/devnet/account"), idx[:])
		k, err := crypto.ToECDSA(seed)
		if err != nil {
			continue // not a valid scalar; astronomically unlikely
		}
		out = append(out, DevAccount{Address: crypto.PubkeyToAddress(k.PublicKey), Key: k})
	}
	return out
}

// FundedDevAccounts returns the dev accounts a genesis funds: the longest
// run of dev accounts 0, 1, 2, … that all hold a balance.
func FundedDevAccounts(g *chain.Genesis) []DevAccount {
	funded := make(map[chain.Address]bool, len(g.Accounts))
	for _, a := range g.Accounts {
		funded[a.Address] = true
	}
	all := DevAccounts(len(g.Accounts))
	for i, a := range all {
		if !funded[a.Address] {
			return all[:i]
		}
	}
	return all
}

// InitOptions describe a new home directory.
type InitOptions struct {
	Home        string
	Moniker     string
	ChainID     uint64
	BlockTime   time.Duration
	GenesisTime time.Time // zero: now, to the second
	// FeeRecipient receives the validator's fees; nil generates a key for
	// it in fee_key.json.
	FeeRecipient *chain.Address
	// Alloc prefunds accounts at genesis.
	Alloc []chain.GenesisAccount
	// DevAccounts prefunds that many deterministic dev accounts.
	DevAccounts int
	// Passphrase encrypts the validator key when not empty; PassphraseFile
	// is recorded in the config so that `bizra start` can read it.
	Passphrase     []byte
	PassphraseFile string
	// Config is the configuration to write; zero value means defaults.
	Config *Config
}

// InitResult describes what Init wrote.
type InitResult struct {
	Config       Config
	Genesis      *chain.Genesis
	FeeRecipient chain.Address
	ValidatorKey *bls.PublicKey
	DevAccounts  []DevAccount
}

// Init creates a home directory for a single-validator chain: config file,
// genesis, validator BLS key, node key and (unless a fee recipient is given)
// a fee recipient key. Everything is generated and validated first, written
// into a temporary directory beside the home, and renamed into place, so a
// failed init leaves nothing behind. It refuses a directory that already
// holds a node or other files. Zero ChainID, BlockTime and GenesisTime mean
// the defaults; the CLI passes explicit values.
func Init(o InitOptions) (*InitResult, error) {
	if o.Home == "" {
		return nil, fmt.Errorf("%w: home directory is empty", ErrInvalidConfig)
	}
	if IsHome(o.Home) {
		return nil, fmt.Errorf("%w: %s", ErrHomeExists, o.Home)
	}
	if entries, err := os.ReadDir(o.Home); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s holds %d entries and no %s", ErrHomeNotEmpty, o.Home, len(entries), ConfigFileName)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("node: read home: %w", err)
	}
	cfg := DefaultConfig()
	if o.Config != nil {
		cfg = *o.Config
	}
	cfg.Home = o.Home
	if o.Moniker != "" {
		cfg.Moniker = o.Moniker
	}
	if o.PassphraseFile != "" {
		cfg.Validator.PassphraseFile = o.PassphraseFile
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.ChainID == 0 {
		o.ChainID = DefaultChainID
	}
	if o.BlockTime == 0 {
		o.BlockTime = time.Second
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now().UTC().Truncate(time.Second)
	}

	// Generate and validate everything in memory.
	_, nodeKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	vk, err := bls.GenerateKey()
	if err != nil {
		return nil, err
	}
	res := &InitResult{Config: cfg, ValidatorKey: vk.PublicKey()}
	var feeKey *ecdsa.PrivateKey
	if o.FeeRecipient != nil {
		res.FeeRecipient = *o.FeeRecipient
	} else {
		if feeKey, err = crypto.GenerateKey(); err != nil {
			return nil, err
		}
		res.FeeRecipient = crypto.PubkeyToAddress(feeKey.PublicKey)
	}
	g := &chain.Genesis{
		ChainID:     o.ChainID,
		GenesisTime: o.GenesisTime,
		BlockTime:   chain.Duration{Duration: o.BlockTime},
		Limits:      chain.DefaultLimits(),
		Consensus:   chain.DefaultConsensusParams(),
		Validators: []chain.GenesisValidator{{
			Name:              cfg.Moniker,
			Address:           res.FeeRecipient,
			PubKey:            res.ValidatorKey.Bytes(),
			ProofOfPossession: bls.ProvePossession(vk).Bytes(),
			Stake:             DefaultStake,
		}},
		Accounts: append([]chain.GenesisAccount(nil), o.Alloc...),
	}
	res.DevAccounts = DevAccounts(o.DevAccounts)
	for _, a := range res.DevAccounts {
		g.Accounts = append(g.Accounts, chain.GenesisAccount{Address: a.Address, Balance: chain.U256{Int: *DevBalance}})
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	res.Genesis = g

	// Write into a temporary directory and rename it into place.
	parent := filepath.Dir(filepath.Clean(o.Home))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("node: create parent of home: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".bizra-init-")
	if err != nil {
		return nil, fmt.Errorf("node: create home: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left after the rename
	staged := cfg
	staged.Home = tmp
	if err := SaveNodeKey(staged.Path(cfg.P2P.NodeKeyFile), nodeKey); err != nil {
		return nil, err
	}
	if err := bls.SaveKeyFile(staged.Path(cfg.Validator.KeyFile), vk, o.Passphrase); err != nil {
		return nil, fmt.Errorf("node: write validator key: %w", err)
	}
	if feeKey != nil {
		if err := SaveAccountKey(filepath.Join(tmp, FeeKeyFile), feeKey); err != nil {
			return nil, err
		}
	}
	if err := g.Save(staged.Path(cfg.Chain.GenesisFile)); err != nil {
		return nil, fmt.Errorf("node: write genesis: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ConfigFileName), EncodeConfig(&cfg), 0o644); err != nil {
		return nil, fmt.Errorf("node: write config: %w", err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, err
	}
	// An existing home is an empty directory (checked above); os.Remove
	// deletes only empty ones, so nothing can be lost here.
	if err := os.Remove(o.Home); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("node: replace empty home: %w", err)
	}
	if err := os.Rename(tmp, o.Home); err != nil {
		return nil, fmt.Errorf("node: move new home into place: %w", err)
	}
	return res, nil
}

// IsHome reports whether dir holds an initialised node.
func IsHome(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFileName))
	return err == nil
}
