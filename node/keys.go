package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

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

// Bounds of the secret files a node reads. A key file is a few hundred
// bytes of JSON and a passphrase is one line: a file past its bound is
// refused (ErrKeyFileTooLarge), never cut, and never read whole.
const (
	maxKeyFileSize = 64 << 10
	// MaxPassphraseFileSize bounds a passphrase file, newline included.
	MaxPassphraseFileSize = 4 << 10
)

// secretOpenFlags opens without blocking: a named pipe put where a secret
// belongs would otherwise hold the open until some writer appears. It
// changes nothing for a regular file, and anything else is refused before
// a byte is read.
const secretOpenFlags = os.O_RDONLY | syscall.O_NONBLOCK

// readSecret reads a key or passphrase file of at most limit bytes. It opens
// the file once and checks what it opened (not the path, which could be
// swapped between a check and the read): a regular file (a symlink is
// followed, so the file it names is checked), not accessible by group or
// others, within limit. The bytes are read into one buffer of limit+1 bytes
// that is never grown (growing would leave partial copies behind), so that
// clearing data[:cap(data)] clears every copy readSecret made.
func readSecret(path string, limit int) ([]byte, error) {
	f, err := os.OpenFile(path, secretOpenFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s; want a file of mode 0600", ErrKeyFileNotRegular, path, fileKind(st.Mode()))
	}
	// Windows has no Unix permission bits; os reports 0666 or 0444 there.
	if mode := st.Mode().Perm(); runtime.GOOS != "windows" && mode&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecureKeyFile, path, mode, path)
	}
	if st.Size() > int64(limit) {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrKeyFileTooLarge, path, st.Size(), limit)
	}
	buf := make([]byte, limit+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil: // limit+1 bytes: the file grew since Stat
		clear(buf)
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrKeyFileTooLarge, path, limit)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return buf[:n], nil
	default:
		clear(buf)
		return nil, err
	}
}

// useSecret passes the bytes of the secret file at path (read as readSecret
// does) to use and overwrites them when use returns. use must not keep
// them.
func useSecret(path string, limit int, use func([]byte) error) error {
	data, err := readSecret(path, limit)
	if err != nil {
		return err
	}
	defer clear(data[:cap(data)])
	return use(data)
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// ReadPassphraseFile reads a validator key's passphrase as `bizra start`
// does: from a regular file that group and others cannot access (mode 0600
// or 0400), of at most MaxPassphraseFileSize bytes; a trailing newline is
// dropped and an empty passphrase is an error. The caller should clear the
// result when done with it (clear(p[:cap(p)]) clears the whole buffer it
// was read into).
func ReadPassphraseFile(path string) ([]byte, error) {
	data, err := readSecret(path, MaxPassphraseFileSize)
	if err != nil {
		return nil, err
	}
	pass := bytes.TrimRight(data, "\r\n")
	if len(pass) == 0 {
		clear(data)
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return pass, nil
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

// LoadNodeKey reads the network identity key. The file's bytes and the
// decoded seed are overwritten once the key is built.
func LoadNodeKey(path string) (ed25519.PrivateKey, error) {
	var priv ed25519.PrivateKey
	err := useSecret(path, maxKeyFileSize, func(data []byte) error {
		var f nodeKeyFile
		err := json.Unmarshal(data, &f)
		defer clear(f.PrivateKey)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if f.Type != "ed25519" || len(f.PrivateKey) != ed25519.SeedSize {
			return fmt.Errorf("%s: want an ed25519 seed of %d bytes", path, ed25519.SeedSize)
		}
		priv = ed25519.NewKeyFromSeed(f.PrivateKey)
		if pub := priv.Public().(ed25519.PublicKey); !pub.Equal(ed25519.PublicKey(f.PublicKey)) {
			clear(priv)
			return fmt.Errorf("%s: public key does not match the private key", path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node: node key: %w", err)
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

// LoadAccountKey reads a secp256k1 account key. The file's bytes and the
// decoded scalar are overwritten once the key is built.
func LoadAccountKey(path string) (*ecdsa.PrivateKey, error) {
	var k *ecdsa.PrivateKey
	err := useSecret(path, maxKeyFileSize, func(data []byte) error {
		var f accountKeyFile
		err := json.Unmarshal(data, &f)
		defer clear(f.PrivateKey)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if k, err = crypto.ToECDSA(f.PrivateKey); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if crypto.PubkeyToAddress(k.PublicKey) != f.Address {
			return fmt.Errorf("%s: address does not match the private key", path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node: account key: %w", err)
	}
	return k, nil
}

// LoadValidatorKey loads the validator key the config names, decrypting it
// with the passphrase file if one is configured (read as
// ReadPassphraseFile does, and overwritten once the key is decrypted).
func LoadValidatorKey(cfg *Config) (*bls.SecretKey, error) {
	var pass []byte
	if cfg.Validator.PassphraseFile != "" {
		p, err := ReadPassphraseFile(cfg.Path(cfg.Validator.PassphraseFile))
		if err != nil {
			return nil, fmt.Errorf("node: validator passphrase: %w", err)
		}
		defer clear(p[:cap(p)])
		pass = p
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
