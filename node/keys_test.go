package node

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/consensus/bls"
)

// secretLoaders are the ways a node reads a secret file: its node key, an
// account key and the validator key's passphrase.
type secretLoaders struct {
	dir     string
	node    []byte // a valid node key file
	account []byte // a valid account key file
	keyFile string // an encrypted validator key, passphrase "correct horse"
	validPW []byte
}

func newSecretLoaders(t *testing.T) *secretLoaders {
	t.Helper()
	s := &secretLoaders{dir: t.TempDir(), validPW: []byte("correct horse")}
	nk := filepath.Join(s.dir, "node_key.json")
	if _, err := GenerateNodeKey(nk); err != nil {
		t.Fatal(err)
	}
	ak := filepath.Join(s.dir, "account_key.json")
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveAccountKey(ak, k); err != nil {
		t.Fatal(err)
	}
	s.node, _ = os.ReadFile(nk)
	s.account, _ = os.ReadFile(ak)
	sk, err := bls.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s.keyFile = filepath.Join(s.dir, "validator_key.json")
	if err := bls.SaveKeyFile(s.keyFile, sk, s.validPW); err != nil {
		t.Fatal(err)
	}
	return s
}

// load reads path as the kind of secret named.
func (s *secretLoaders) load(kind, path string) error {
	switch kind {
	case "node key":
		_, err := LoadNodeKey(path)
		return err
	case "account key":
		_, err := LoadAccountKey(path)
		return err
	case "passphrase":
		cfg := DefaultConfig()
		cfg.Home = s.dir
		cfg.Validator.KeyFile = s.keyFile
		cfg.Validator.PassphraseFile = path
		_, err := LoadValidatorKey(&cfg)
		return err
	}
	panic("unknown secret kind " + kind)
}

// valid is the content of a good file of that kind.
func (s *secretLoaders) valid(kind string) []byte {
	switch kind {
	case "node key":
		return s.node
	case "account key":
		return s.account
	}
	return append(append([]byte(nil), s.validPW...), '\r', '\n')
}

// loadBounded runs load and reports its error, how long it took and how
// many bytes it allocated; a load that blocks fails the test after 5 s
// (its goroutine is left behind: the file was a trap).
func loadBounded(t *testing.T, load func() error) (error, time.Duration, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- load() }()
	select {
	case err := <-done:
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		return err, took, after.TotalAlloc - before.TotalAlloc
	case <-time.After(5 * time.Second):
		t.Fatal("the load was still blocked after 5 s")
		return nil, 0, 0
	}
}

// TestSecretFilesRefused: every secret file the node reads is refused when
// group or others may read it, when it is not a regular file, or when it
// is larger than a secret of its kind can be, and the refusal reads (and
// allocates) no more than the bound.
func TestSecretFilesRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	s := newSecretLoaders(t)
	const huge = 64 << 20 // a sparse file: costs no disk, only a reader that reads it whole
	cases := []struct {
		name  string
		make  func(t *testing.T, path string, valid []byte)
		want  error
		msg   string
		alloc uint64 // at most this many bytes allocated
	}{
		{"mode 0644", func(t *testing.T, p string, v []byte) { writeMode(t, p, v, 0o644) }, ErrInsecureKeyFile, "chmod 600", 1 << 20},
		{"mode 0640", func(t *testing.T, p string, v []byte) { writeMode(t, p, v, 0o640) }, ErrInsecureKeyFile, "chmod 600", 1 << 20},
		{"mode 0602", func(t *testing.T, p string, v []byte) { writeMode(t, p, v, 0o602) }, ErrInsecureKeyFile, "chmod 600", 1 << 20},
		{"symlink to a 0644 file", func(t *testing.T, p string, v []byte) {
			writeMode(t, p+".target", v, 0o644)
			if err := os.Symlink(p+".target", p); err != nil {
				t.Fatal(err)
			}
		}, ErrInsecureKeyFile, "chmod 600", 1 << 20},
		{"64 MiB file", func(t *testing.T, p string, v []byte) {
			writeMode(t, p, v, 0o600)
			if err := os.Truncate(p, huge); err != nil {
				t.Fatal(err)
			}
		}, ErrKeyFileTooLarge, "more than", 1 << 20},
		{"directory", func(t *testing.T, p string, v []byte) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, ErrKeyFileNotRegular, "not a regular file", 1 << 20},
	}
	for _, kind := range []string{"node key", "account key", "passphrase"} {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "secret")
				tc.make(t, path, s.valid(kind))
				err, took, alloc := loadBounded(t, func() error { return s.load(kind, path) })
				t.Logf("%v, %v, %d bytes allocated", err, took.Round(time.Millisecond), alloc)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
					t.Fatalf("got %v, want %v saying %q and naming the file", err, tc.want, tc.msg)
				}
				if alloc > tc.alloc {
					t.Fatalf("refusing it allocated %d bytes, want at most %d", alloc, tc.alloc)
				}
			})
		}
	}
}

func writeMode(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes the umask
		t.Fatal(err)
	}
}

// TestSecretFilesAccepted: what an operator may do with a secret file still
// works: mode 0600 or 0400, a symlink to such a file (as secret stores
// mount them), a passphrase ending in a newline.
func TestSecretFilesAccepted(t *testing.T) {
	s := newSecretLoaders(t)
	for _, kind := range []string{"node key", "account key", "passphrase"} {
		for _, tc := range []struct {
			name string
			make func(t *testing.T, path string, valid []byte)
		}{
			{"mode 0600", func(t *testing.T, p string, v []byte) { writeMode(t, p, v, 0o600) }},
			{"mode 0400", func(t *testing.T, p string, v []byte) { writeMode(t, p, v, 0o400) }},
			{"symlink to a 0600 file", func(t *testing.T, p string, v []byte) {
				writeMode(t, p+".target", v, 0o600)
				if err := os.Symlink(p+".target", p); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			if kind == "passphrase" && tc.name != "symlink to a 0600 file" {
				continue // each costs a key derivation; one is enough
			}
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "secret")
				tc.make(t, path, s.valid(kind))
				if err := s.load(kind, path); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestPassphraseFileBounds: the passphrase file holds at most
// MaxPassphraseFileSize bytes; one byte more is refused, not cut; an
// empty one is an error that says so.
func TestPassphraseFileBounds(t *testing.T) {
	s := newSecretLoaders(t)
	dir := t.TempDir()
	atLimit := filepath.Join(dir, "at-limit")
	writeMode(t, atLimit, bytes.Repeat([]byte{'x'}, MaxPassphraseFileSize), 0o600)
	if err := s.load("passphrase", atLimit); !errors.Is(err, bls.ErrWrongPassphrase) {
		t.Fatalf("a passphrase of %d bytes: %v, want it read and tried (wrong passphrase)", MaxPassphraseFileSize, err)
	}
	over := filepath.Join(dir, "over")
	writeMode(t, over, bytes.Repeat([]byte{'x'}, MaxPassphraseFileSize+1), 0o600)
	if err := s.load("passphrase", over); !errors.Is(err, ErrKeyFileTooLarge) {
		t.Fatalf("a passphrase file of %d bytes: %v, want %v", MaxPassphraseFileSize+1, err, ErrKeyFileTooLarge)
	}
	empty := filepath.Join(dir, "empty")
	writeMode(t, empty, []byte("\n"), 0o600)
	if err := s.load("passphrase", empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty passphrase file: %v, want an error saying it is empty", err)
	}
}

// TestUseSecretClears: the bytes of a secret file are overwritten once the
// caller is done with them, on success and on failure.
func TestUseSecretClears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	writeMode(t, path, []byte("swordfish\n"), 0o600)
	for _, fail := range []bool{false, true} {
		var seen []byte
		err := useSecret(path, MaxPassphraseFileSize, func(b []byte) error {
			if string(b) != "swordfish\n" {
				t.Fatalf("read %q", b)
			}
			seen = b
			if fail {
				return errors.New("refused")
			}
			return nil
		})
		if fail != (err != nil) {
			t.Fatalf("fail=%v: %v", fail, err)
		}
		if !bytes.Equal(seen[:cap(seen)], make([]byte, cap(seen))) {
			t.Fatalf("fail=%v: the buffer still holds %q", fail, seen)
		}
	}
}
