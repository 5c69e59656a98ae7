package bls

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Key file format, version 1. A JSON object:
//
//	{
//	  "version": 1,
//	  "public_key": "0x<48-byte compressed public key>",
//	  "secret_key": "0x<32-byte secret key>"            // plain file, or
//	  "crypto": {                                       // encrypted file
//	    "kdf": "pbkdf2-hmac-sha256", "iterations": 600000, "salt": "0x<32 bytes>",
//	    "cipher": "aes-256-gcm", "nonce": "0x<12 bytes>", "ciphertext": "0x<32+16 bytes>"
//	  }
//	}
//
// Exactly one of secret_key and crypto is present. The passphrase bytes are
// used as given, with no Unicode normalisation.
const (
	keyFileVersion = 1
	kdfPBKDF2      = "pbkdf2-hmac-sha256"
	cipherAESGCM   = "aes-256-gcm"

	// DefaultKDFIterations is the PBKDF2-HMAC-SHA256 work factor SaveKeyFile
	// writes (OWASP's 2023 recommendation for this hash).
	DefaultKDFIterations = 600_000
	// minKDFIterations and maxKDFIterations bound what DecodeKeyFile accepts:
	// the floor rejects obviously broken files, the ceiling keeps a hostile
	// file from pinning a CPU for minutes.
	minKDFIterations = 1_000
	maxKDFIterations = 10_000_000

	kdfSaltSize    = 32
	aesKeySize     = 32
	maxKeyFileSize = 64 << 10
)

// keyFileAAD binds the ciphertext to this format and version.
var keyFileAAD = []byte("bizra-bls-keyfile-v1")

type keyFileJSON struct {
	Version   int            `json:"version"`
	PublicKey string         `json:"public_key"`
	SecretKey string         `json:"secret_key,omitempty"`
	Crypto    *keyFileCrypto `json:"crypto,omitempty"`
}

type keyFileCrypto struct {
	KDF        string `json:"kdf"`
	Iterations int    `json:"iterations"`
	Salt       string `json:"salt"`
	Cipher     string `json:"cipher"`
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

// SaveKeyFile writes sk to path as a key file with mode 0600, atomically: the
// bytes go to a temporary file in the same directory, which is synced and
// renamed over path, and the directory is synced. An existing file at path is
// replaced; refusing to overwrite a validator key is the caller's decision.
// With an empty passphrase the secret is stored in plain hex; otherwise it is
// encrypted with AES-256-GCM under a key derived by PBKDF2-HMAC-SHA256.
func SaveKeyFile(path string, sk *SecretKey, passphrase []byte) error {
	data, err := EncodeKeyFile(sk, passphrase)
	if err != nil {
		return err
	}
	defer clear(data)
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("bls: save key file: %w", err)
	}
	return nil
}

// LoadKeyFile reads the key file at path. It refuses a file that group or
// others may read, write or execute (ErrInsecureKeyFile, naming the mode and
// the fix), a wrong passphrase (ErrWrongPassphrase), a missing or unexpected
// passphrase, and a public key that does not match the secret (ErrKeyMismatch).
func LoadKeyFile(path string, passphrase []byte) (*SecretKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bls: load key file: %w", err)
	}
	defer f.Close()
	// Stat the open descriptor, not the path, so the file checked is the
	// file read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bls: load key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMalformedKeyFile, path)
	}
	// Windows has no Unix permission bits; os reports 0666 or 0444 there.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, open to group or others; run: chmod 600 %s",
			ErrInsecureKeyFile, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("bls: load key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformedKeyFile, path, maxKeyFileSize)
	}
	sk, err := DecodeKeyFile(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return sk, nil
}

// EncodeKeyFile returns the key file encoding of sk: plain with an empty
// passphrase, encrypted with DefaultKDFIterations otherwise.
func EncodeKeyFile(sk *SecretKey, passphrase []byte) ([]byte, error) {
	return encodeKeyFile(sk, passphrase, DefaultKDFIterations, rand.Reader)
}

func encodeKeyFile(sk *SecretKey, passphrase []byte, iterations int, random io.Reader) ([]byte, error) {
	if sk == nil {
		return nil, ErrNilInput
	}
	secret := sk.Bytes()
	defer clear(secret)
	kf := keyFileJSON{
		Version:   keyFileVersion,
		PublicKey: encodeHex(sk.PublicKey().Bytes()),
	}
	if len(passphrase) == 0 {
		kf.SecretKey = encodeHex(secret)
	} else {
		salt := make([]byte, kdfSaltSize)
		if _, err := io.ReadFull(random, salt); err != nil {
			return nil, fmt.Errorf("bls: encode key file: %w", err)
		}
		aead, err := newKeyFileAEAD(passphrase, salt, iterations)
		if err != nil {
			return nil, fmt.Errorf("bls: encode key file: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := io.ReadFull(random, nonce); err != nil {
			return nil, fmt.Errorf("bls: encode key file: %w", err)
		}
		kf.Crypto = &keyFileCrypto{
			KDF:        kdfPBKDF2,
			Iterations: iterations,
			Salt:       encodeHex(salt),
			Cipher:     cipherAESGCM,
			Nonce:      encodeHex(nonce),
			Ciphertext: encodeHex(aead.Seal(nil, nonce, secret, keyFileAAD)),
		}
	}
	out, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bls: encode key file: %w", err)
	}
	return append(out, '\n'), nil
}

// DecodeKeyFile decodes a key file's contents. It is strict: unknown fields,
// trailing data, a wrong version, malformed hex and out-of-range KDF
// parameters are ErrMalformedKeyFile.
func DecodeKeyFile(data, passphrase []byte) (*SecretKey, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformedKeyFile, maxKeyFileSize)
	}
	var kf keyFileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKeyFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformedKeyFile)
	}
	if kf.Version != keyFileVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformedKeyFile, kf.Version, keyFileVersion)
	}
	pub, err := decodeHex(kf.PublicKey, PublicKeySize, "public_key")
	if err != nil {
		return nil, err
	}
	var secret []byte
	switch {
	case kf.SecretKey != "" && kf.Crypto != nil:
		return nil, fmt.Errorf("%w: both secret_key and crypto present", ErrMalformedKeyFile)
	case kf.SecretKey != "":
		if len(passphrase) != 0 {
			return nil, ErrNotEncrypted
		}
		secret, err = decodeHex(kf.SecretKey, SecretKeySize, "secret_key")
	case kf.Crypto != nil:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseRequired
		}
		secret, err = decryptSecret(kf.Crypto, passphrase)
	default:
		return nil, fmt.Errorf("%w: neither secret_key nor crypto present", ErrMalformedKeyFile)
	}
	defer clear(secret)
	if err != nil {
		return nil, err
	}
	sk, err := SecretKeyFromBytes(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKeyFile, err)
	}
	if !bytes.Equal(sk.PublicKey().Bytes(), pub) {
		return nil, ErrKeyMismatch
	}
	return sk, nil
}

func decryptSecret(c *keyFileCrypto, passphrase []byte) ([]byte, error) {
	if c.KDF != kdfPBKDF2 {
		return nil, fmt.Errorf("%w: kdf %q, want %q", ErrMalformedKeyFile, c.KDF, kdfPBKDF2)
	}
	if c.Cipher != cipherAESGCM {
		return nil, fmt.Errorf("%w: cipher %q, want %q", ErrMalformedKeyFile, c.Cipher, cipherAESGCM)
	}
	if c.Iterations < minKDFIterations || c.Iterations > maxKDFIterations {
		return nil, fmt.Errorf("%w: kdf iterations %d outside [%d, %d]",
			ErrMalformedKeyFile, c.Iterations, minKDFIterations, maxKDFIterations)
	}
	salt, err := decodeHex(c.Salt, kdfSaltSize, "salt")
	if err != nil {
		return nil, err
	}
	nonce, err := decodeHex(c.Nonce, 12, "nonce")
	if err != nil {
		return nil, err
	}
	ciphertext, err := decodeHex(c.Ciphertext, SecretKeySize+16, "ciphertext")
	if err != nil {
		return nil, err
	}
	aead, err := newKeyFileAEAD(passphrase, salt, c.Iterations)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKeyFile, err)
	}
	secret, err := aead.Open(nil, nonce, ciphertext, keyFileAAD)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return secret, nil
}

func newKeyFileAEAD(passphrase, salt []byte, iterations int) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, aesKeySize)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func encodeHex(b []byte) string { return "0x" + hex.EncodeToString(b) }

// decodeHex decodes a hex field with an optional 0x prefix and checks its
// length.
func decodeHex(s string, size int, field string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 2*size {
		return nil, fmt.Errorf("%w: %s is %d hex digits, want %d", ErrMalformedKeyFile, field, len(s), 2*size)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedKeyFile, field, err)
	}
	return b, nil
}

// writeFileAtomic writes data to a fresh mode-0600 file beside path, syncs
// it, renames it over path and syncs the directory, so a crash leaves either
// the old file or the new one, never a torn one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; say so explicitly, independent of umask.
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync on Windows
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
