package bls

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// lightKeyFile encodes sk with the lowest work factor DecodeKeyFile accepts,
// so that tests of the decoder do not spend a second per case in PBKDF2.
func lightKeyFile(tb testing.TB, sk *SecretKey, passphrase []byte) []byte {
	tb.Helper()
	data, err := encodeKeyFile(sk, passphrase, minKDFIterations, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func writeMode(tb testing.TB, path string, data []byte, mode fs.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes through umask
		tb.Fatal(err)
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		passphrase []byte
	}{
		{"plain", nil},
		{"encrypted", []byte("correct horse battery staple")},
		{"encrypted, non-ASCII passphrase", []byte("pässwörd 🔑")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "validator.json")
			sk := mustKey(t)
			if err := SaveKeyFile(path, sk, tc.passphrase); err != nil {
				t.Fatal(err)
			}
			got, err := LoadKeyFile(path, tc.passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), sk.Bytes()) {
				t.Fatal("loaded key differs from saved key")
			}

			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(sk.PublicKey().String())) {
				t.Error("key file does not name the public key in 0x hex")
			}
			secretHex := strings.TrimPrefix(encodeHex(sk.Bytes()), "0x")
			if encrypted := len(tc.passphrase) > 0; encrypted == bytes.Contains(data, []byte(secretHex)) {
				t.Errorf("encrypted=%v but plain secret in file=%v", encrypted, !encrypted)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries after save, want 1 (temporary file left behind?)", len(entries))
			}
		})
	}
}

func TestSaveKeyFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits on Windows")
	}
	tests := []struct {
		name     string
		existing fs.FileMode // 0: no file before saving
	}{
		{"new file", 0},
		{"replaces a 0644 file", 0o644},
		{"replaces a 0666 file", 0o666},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "validator.json")
			if tc.existing != 0 {
				writeMode(t, path, []byte("old"), tc.existing)
			}
			sk := mustKey(t)
			if err := SaveKeyFile(path, sk, nil); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Fatalf("mode = %04o, want 0600", perm)
			}
			if _, err := LoadKeyFile(path, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "k.json")
		if err := SaveKeyFile(path, mustKey(t), nil); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want %v", err, fs.ErrNotExist)
		}
	})
}

func TestLoadKeyFileRefusesOpenModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits on Windows")
	}
	sk := mustKey(t)
	data := lightKeyFile(t, sk, nil)
	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o602, false},
		{0o610, false},
		{0o666, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "validator.json")
			writeMode(t, path, data, tc.mode)
			got, err := LoadKeyFile(path, nil)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), sk.Bytes()) {
					t.Fatal("wrong key loaded")
				}
				return
			}
			if !errors.Is(err, ErrInsecureKeyFile) {
				t.Fatalf("err = %v, want %v", err, ErrInsecureKeyFile)
			}
			msg := err.Error()
			for _, want := range []string{"chmod 600", path, fmt.Sprintf("mode %04o", tc.mode)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	pass := []byte("s3cret")
	sk := mustKey(t)
	encrypted := lightKeyFile(t, sk, pass)
	plain := lightKeyFile(t, sk, nil)
	tests := []struct {
		name       string
		setup      func(t *testing.T, path string) // writes the file at path
		passphrase []byte
		want       error
	}{
		{"wrong passphrase", file(encrypted), []byte("s3cret!"), ErrWrongPassphrase},
		{"passphrase differs in case", file(encrypted), []byte("S3cret"), ErrWrongPassphrase},
		{"no passphrase for encrypted file", file(encrypted), nil, ErrPassphraseRequired},
		{"passphrase for plain file", file(plain), pass, ErrNotEncrypted},
		{"public key of another secret", file(withPublicKey(t, plain, mustKey(t).PublicKey())), nil, ErrKeyMismatch},
		{"encrypted, public key of another secret", file(withPublicKey(t, encrypted, mustKey(t).PublicKey())), pass, ErrKeyMismatch},
		{"missing file", func(*testing.T, string) {}, nil, fs.ErrNotExist},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, nil, ErrMalformedKeyFile},
		{"too large", file(append(bytes.Clone(plain), bytes.Repeat([]byte(" "), maxKeyFileSize)...)), nil, ErrMalformedKeyFile},
		{"empty", file(nil), nil, ErrMalformedKeyFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "validator.json")
			tc.setup(t, path)
			got, err := LoadKeyFile(path, tc.passphrase)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Fatal("got a key with an error")
			}
		})
	}
}

func file(data []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) { writeMode(t, path, data, 0o600) }
}

// withPublicKey returns the key file data with its public_key replaced.
func withPublicKey(tb testing.TB, data []byte, pk *PublicKey) []byte {
	tb.Helper()
	return editKeyFile(tb, data, func(kf map[string]any) { kf["public_key"] = pk.String() })
}

func editKeyFile(tb testing.TB, data []byte, edit func(map[string]any)) []byte {
	tb.Helper()
	var kf map[string]any
	if err := json.Unmarshal(data, &kf); err != nil {
		tb.Fatal(err)
	}
	edit(kf)
	out, err := json.Marshal(kf)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func editCrypto(tb testing.TB, data []byte, field string, value any) []byte {
	tb.Helper()
	return editKeyFile(tb, data, func(kf map[string]any) { kf["crypto"].(map[string]any)[field] = value })
}

func TestDecodeKeyFile(t *testing.T) {
	pass := []byte("s3cret")
	sk := mustKey(t)
	encrypted := lightKeyFile(t, sk, pass)
	plain := lightKeyFile(t, sk, nil)
	zero := editKeyFile(t, plain, func(kf map[string]any) { kf["secret_key"] = encodeHex(make([]byte, 32)) })
	flipped := []byte(editCrypto(t, encrypted, "ciphertext", "0x00"+strings.Repeat("11", 47)))

	tests := []struct {
		name       string
		data       []byte
		passphrase []byte
		want       error // nil: decodes to sk
	}{
		{"plain", plain, nil, nil},
		{"encrypted", encrypted, pass, nil},
		{"plain without 0x prefixes", bytes.ReplaceAll(plain, []byte(`"0x`), []byte(`"`)), nil, nil},
		// encoding/json matches field names case-insensitively; upper-case
		// hex is fine.
		{"plain, all upper case", []byte(strings.ToUpper(string(plain))), nil, nil},
		{"not JSON", []byte("validator key"), nil, ErrMalformedKeyFile},
		{"JSON array", []byte("[]"), nil, ErrMalformedKeyFile},
		{"null", []byte("null"), nil, ErrMalformedKeyFile},
		{"trailing data", append(bytes.Clone(plain), []byte("{}")...), nil, ErrMalformedKeyFile},
		{"unknown field", editKeyFile(t, plain, func(kf map[string]any) { kf["comment"] = "x" }), nil, ErrMalformedKeyFile},
		{"version 2", editKeyFile(t, plain, func(kf map[string]any) { kf["version"] = 2 }), nil, ErrMalformedKeyFile},
		{"no version", editKeyFile(t, plain, func(kf map[string]any) { delete(kf, "version") }), nil, ErrMalformedKeyFile},
		{"no public key", editKeyFile(t, plain, func(kf map[string]any) { delete(kf, "public_key") }), nil, ErrMalformedKeyFile},
		{"no secret", editKeyFile(t, plain, func(kf map[string]any) { delete(kf, "secret_key") }), nil, ErrMalformedKeyFile},
		{"both secret and crypto", editKeyFile(t, encrypted, func(kf map[string]any) { kf["secret_key"] = encodeHex(sk.Bytes()) }), pass, ErrMalformedKeyFile},
		{"short secret", editKeyFile(t, plain, func(kf map[string]any) { kf["secret_key"] = "0x0102" }), nil, ErrMalformedKeyFile},
		{"secret not hex", editKeyFile(t, plain, func(kf map[string]any) { kf["secret_key"] = "0x" + strings.Repeat("zz", 32) }), nil, ErrMalformedKeyFile},
		{"zero secret", zero, nil, ErrInvalidSecretKey},
		{"public key not hex", editKeyFile(t, plain, func(kf map[string]any) { kf["public_key"] = "0x" + strings.Repeat("g", 96) }), nil, ErrMalformedKeyFile},
		{"unknown kdf", editCrypto(t, encrypted, "kdf", "scrypt"), pass, ErrMalformedKeyFile},
		{"unknown cipher", editCrypto(t, encrypted, "cipher", "aes-128-ctr"), pass, ErrMalformedKeyFile},
		{"too few iterations", editCrypto(t, encrypted, "iterations", minKDFIterations-1), pass, ErrMalformedKeyFile},
		{"too many iterations", editCrypto(t, encrypted, "iterations", maxKDFIterations+1), pass, ErrMalformedKeyFile},
		{"other iteration count", editCrypto(t, encrypted, "iterations", minKDFIterations+1), pass, ErrWrongPassphrase},
		{"short salt", editCrypto(t, encrypted, "salt", "0x0102"), pass, ErrMalformedKeyFile},
		{"short nonce", editCrypto(t, encrypted, "nonce", "0x0102"), pass, ErrMalformedKeyFile},
		{"short ciphertext", editCrypto(t, encrypted, "ciphertext", "0x0102"), pass, ErrMalformedKeyFile},
		{"tampered ciphertext", flipped, pass, ErrWrongPassphrase},
		{"other salt", editCrypto(t, encrypted, "salt", encodeHex(make([]byte, kdfSaltSize))), pass, ErrWrongPassphrase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeKeyFile(tc.data, tc.passphrase)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !bytes.Equal(got.Bytes(), sk.Bytes()) {
				t.Fatal("decoded the wrong key")
			}
		})
	}
}

func TestEncodeKeyFileUsesDefaultWorkFactor(t *testing.T) {
	data, err := EncodeKeyFile(mustKey(t), []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFileJSON
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	if kf.Crypto == nil || kf.Crypto.Iterations != DefaultKDFIterations || kf.Crypto.KDF != kdfPBKDF2 {
		t.Fatalf("crypto = %+v, want %s with %d iterations", kf.Crypto, kdfPBKDF2, DefaultKDFIterations)
	}
	if _, err := EncodeKeyFile(nil, nil); !errors.Is(err, ErrNilInput) {
		t.Fatalf("EncodeKeyFile(nil) err = %v, want %v", err, ErrNilInput)
	}
}
