package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus/bls"
)

func TestInitWritesHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	res, err := Init(InitOptions{Home: home, Moniker: "alpha", ChainID: 77, BlockTime: 250 * time.Millisecond, DevAccounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"validator_key.json", "node_key.json", FeeKeyFile}
	for _, f := range secrets {
		st, err := os.Stat(filepath.Join(home, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %04o, want 0600", f, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(home); st.Mode().Perm() != 0o700 {
		t.Fatalf("home has mode %04o", st.Mode().Perm())
	}
	cfg, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Moniker != "alpha" {
		t.Fatalf("moniker %q", cfg.Moniker)
	}
	g, err := chain.LoadGenesis(cfg.Path(cfg.Chain.GenesisFile))
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != 77 || g.BlockTime.Duration != 250*time.Millisecond || len(g.Accounts) != 3 || len(g.Validators) != 1 {
		t.Fatalf("genesis %+v", g)
	}
	if err := verifyValidatorKeys(g); err != nil {
		t.Fatalf("proof of possession: %v", err)
	}
	vk, err := bls.LoadKeyFile(cfg.Path(cfg.Validator.KeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !vk.PublicKey().Equal(res.ValidatorKey) {
		t.Fatal("validator key on disk differs from the one in genesis")
	}
	fk, err := LoadAccountKey(filepath.Join(home, FeeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if crypto.PubkeyToAddress(fk.PublicKey) != g.Validators[0].Address {
		t.Fatal("fee key does not own the validator's fee address")
	}
	if _, err := Init(InitOptions{Home: home}); !errors.Is(err, ErrHomeExists) {
		t.Fatalf("second init: %v", err)
	}
	if !IsHome(home) {
		t.Fatal("IsHome false after init")
	}
}

func TestInitWithPassphraseAndRecipient(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "h")
	pf := filepath.Join(dir, "pass")
	if err := os.WriteFile(pf, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fee := chain.Address{0x42}
	if _, err := Init(InitOptions{Home: home, FeeRecipient: &fee, Passphrase: []byte("correct horse"), PassphraseFile: pf}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, FeeKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("fee key written although a recipient was given")
	}
	cfg, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bls.LoadKeyFile(cfg.Path(cfg.Validator.KeyFile), nil); err == nil {
		t.Fatal("encrypted key loaded without a passphrase")
	}
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("node with encrypted key: %v", err)
	}
	defer n.Close()
	if n.Validator().Address != fee {
		t.Fatalf("fee recipient %s", n.Validator().Address)
	}
}

func TestKeyFilesRefuseLooseModes(t *testing.T) {
	dir := t.TempDir()
	nk := filepath.Join(dir, "node_key.json")
	if _, err := GenerateNodeKey(nk); err != nil {
		t.Fatal(err)
	}
	ak := filepath.Join(dir, "acct.json")
	k, _ := crypto.GenerateKey()
	if err := SaveAccountKey(ak, k); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadNodeKey(nk); err != nil {
		t.Fatal(err)
	}
	got, err := LoadAccountKey(ak)
	if err != nil || !got.Equal(k) {
		t.Fatalf("account key round trip: %v", err)
	}
	for _, f := range []string{nk, ak} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadNodeKey(nk); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("node key 0644: %v", err)
	}
	if _, err := LoadAccountKey(ak); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("account key 0644: %v", err)
	}
}

func TestDevAccountsDeterministic(t *testing.T) {
	a, b := DevAccounts(10), DevAccounts(3)
	seen := map[chain.Address]bool{}
	for i := range a {
		if i < 3 && a[i].Address != b[i].Address {
			t.Fatal("dev accounts depend on how many are asked for")
		}
		if crypto.PubkeyToAddress(a[i].Key.PublicKey) != a[i].Address {
			t.Fatal("address does not match key")
		}
		if seen[a[i].Address] {
			t.Fatal("duplicate dev account")
		}
		seen[a[i].Address] = true
	}
	// Pinned so that tools and documents can rely on the first account.
	if got := a[0].Address.Hex(); got != "0x2530659D8de56CC5bc5d3215a6e18a777F6f29A6" {
		t.Fatalf("dev account 0 is %s", got)
	}
}

func TestFailedInitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "h")
	bad := []chain.GenesisAccount{{Address: chain.Address{1}}} // zero balance
	if _, err := Init(InitOptions{Home: home, Alloc: bad}); !errors.Is(err, chain.ErrInvalidGenesis) {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed init left %d entries behind", len(entries))
	}
	if _, err := Init(InitOptions{Home: home}); err != nil {
		t.Fatalf("init after a failed one: %v", err)
	}
	other := filepath.Join(dir, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(InitOptions{Home: other}); !errors.Is(err, ErrHomeNotEmpty) {
		t.Fatalf("non-empty directory: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(InitOptions{Home: empty}); err != nil || !IsHome(empty) {
		t.Fatalf("existing empty directory: %v", err)
	}
}
