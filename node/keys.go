package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

// nodeKeyFile is the JSON form of the node's network identity key.
type nodeKeyFile struct {
	Type       string        `json:"type"`
	PublicKey  hexutil.Bytes `json:"public_key"`
	PrivateKey hexutil.Bytes `json:"private_key"` // 32-byte Ed25519 seed
}

// accountKeyFile is the JSON form of a secp256k1 account key, such as the
// key of a validator's fee recipient.
type accountKeyFile struct {
	Address    chain.Address `json:"address"`
	PrivateKey hexutil.Bytes `json:"private_key"`
}

// writeSecret writes data to path with mode 0600, atomically: a crash
// leaves either no file or the whole file.
func writeSecret(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readSecret reads a key file, refusing one that group or others may
// access.
func readSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecureKeyFile, path, mode, path)
	}
	return os.ReadFile(path)
}

// GenerateNodeKey creates an Ed25519 network identity key at path.
func GenerateNodeKey(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return priv, SaveNodeKey(path, priv)
}

// SaveNodeKey writes a network identity key to path with mode 0600.
func SaveNodeKey(path string, priv ed25519.PrivateKey) error {
	pub := priv.Public().(ed25519.PublicKey)
	data, err := json.MarshalIndent(nodeKeyFile{Type: "ed25519", PublicKey: hexutil.Bytes(pub), PrivateKey: hexutil.Bytes(priv.Seed())}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSecret(path, append(data, '\n')); err != nil {
		return fmt.Errorf("node: write node key: %w", err)
	}
	return nil
}

// LoadNodeKey reads the network identity key.
func LoadNodeKey(path string) (ed25519.PrivateKey, error) {
	data, err := readSecret(path)
	if err != nil {
		return nil, fmt.Errorf("node: node key: %w", err)
	}
	var f nodeKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("node: node key %s: %w", path, err)
	}
	if f.Type != "ed25519" || len(f.PrivateKey) != ed25519.SeedSize {
		return nil, fmt.Errorf("node: node key %s: want an ed25519 seed of %d bytes", path, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(f.PrivateKey)
	if pub := priv.Public().(ed25519.PublicKey); !pub.Equal(ed25519.PublicKey(f.PublicKey)) {
		return nil, fmt.Errorf("node: node key %s: public key does not match the private key", path)
	}
	return priv, nil
}

// SaveAccountKey writes a secp256k1 account key to path.
func SaveAccountKey(path string, k *ecdsa.PrivateKey) error {
	data, err := json.MarshalIndent(accountKeyFile{Address: crypto.PubkeyToAddress(k.PublicKey), PrivateKey: crypto.FromECDSA(k)}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSecret(path, append(data, '\n')); err != nil {
		return fmt.Errorf("node: write account key: %w", err)
	}
	return nil
}

// LoadAccountKey reads a secp256k1 account key.
func LoadAccountKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := readSecret(path)
	if err != nil {
		return nil, fmt.Errorf("node: account key: %w", err)
	}
	var f accountKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("node: account key %s: %w", path, err)
	}
	k, err := crypto.ToECDSA(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("node: account key %s: %w", path, err)
	}
	if crypto.PubkeyToAddress(k.PublicKey) != f.Address {
		return nil, fmt.Errorf("node: account key %s: address does not match the private key", path)
	}
	return k, nil
}

// LoadValidatorKey loads the validator key the config names, decrypting it
// with the passphrase file if one is configured.
func LoadValidatorKey(cfg *Config) (*bls.SecretKey, error) {
	var pass []byte
	if cfg.Validator.PassphraseFile != "" {
		p, err := os.ReadFile(cfg.Path(cfg.Validator.PassphraseFile))
		if err != nil {
			return nil, fmt.Errorf("node: validator passphrase: %w", err)
		}
		pass = bytes.TrimRight(p, "\r\n")
	}
	vk, err := bls.LoadKeyFile(cfg.Path(cfg.Validator.KeyFile), pass)
	if err != nil {
		return nil, fmt.Errorf("node: validator key: %w", err)
	}
	return vk, nil
}

// verifyValidatorKeys checks that every genesis validator key decodes and
// carries a valid proof of possession.
func verifyValidatorKeys(g *chain.Genesis) error {
	var errs []error
	for i, v := range g.Validators {
		pk, err := bls.PublicKeyFromBytes(v.PubKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("validators[%d] (%s): public key: %w", i, v.Name, err))
			continue
		}
		pop, err := bls.SignatureFromBytes(v.ProofOfPossession)
		if err == nil {
			err = bls.VerifyPossession(pk, pop)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("validators[%d] (%s): proof of possession: %w", i, v.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n%w", chain.ErrInvalidGenesis, errors.Join(errs...))
	}
	return nil
}
