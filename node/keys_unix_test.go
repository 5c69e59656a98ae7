//go:build unix

package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFileFIFO: a named pipe of mode 0600 in place of a secret file
// is refused at once. Opened for reading, a pipe without a writer blocks
// the open for ever; with a writer it can stream without end.
func TestSecretFileFIFO(t *testing.T) {
	s := newSecretLoaders(t)
	for _, kind := range []string{"node key", "account key", "passphrase"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			t.Cleanup(func() {
				// Unblock a reader stuck in open, if the load was one.
				if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			})
			err, took, _ := loadBounded(t, func() error { return s.load(kind, path) })
			t.Logf("%v, %v", err, took.Round(time.Millisecond))
			if !errors.Is(err, ErrKeyFileNotRegular) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want %v naming the file", err, ErrKeyFileNotRegular)
			}
		})
	}
}
