package testnet

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bizra/node0/node"
)

// TestInitLocalWritesRegions checks that a testnet's regions reach every
// home as the region of every validator, and not its config file.
func TestInitLocalWritesRegions(t *testing.T) {
	o := DefaultLocalOptions()
	o.Dir = filepath.Join(t.TempDir(), "tn")
	o.Validators = 3
	o.Regions = []string{"us-east", "ap"}
	nodes, err := InitLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"us-east", "ap", "us-east"}
	for _, n := range nodes {
		got, err := node.LoadRegions(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: regions %v, want %v", n.Moniker, got, want)
		}
		cfg, err := node.LoadConfig(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.P2P.Region != "" {
			t.Fatalf("%s: the config file still sets a region", n.Moniker)
		}
	}
	// Without regions, no file: no emulated latency.
	o.Dir, o.Regions = filepath.Join(t.TempDir(), "plain"), nil
	nodes, err = InitLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := node.LoadRegions(nodes[0].Home); got != nil || err != nil {
		t.Fatalf("a testnet without regions: %v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(nodes[0].Home, node.RegionsFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("regions file of a testnet without regions: %v", err)
	}
}
