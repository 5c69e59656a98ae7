package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/bizra/node0"

// allowed lists, per package area, the areas of this module it may import
// directly. An area is the first path element below the module, or the
// whole path for consensus subpackages. A package in an area missing here
// fails the test, so that a new package states its place.
var allowed = map[string][]string{
	"chain":            {},
	"consensus/bls":    {},
	"consensus/sim":    {"consensus", "consensus/bls", "consensus/driver", "chain"},
	"consensus/driver": {"consensus", "chain"},
	"consensus":        {"consensus/bls", "chain"},
	"mempool":          {"chain"},
	"p2p":              {"chain"},
	"rpc":              {"chain"},
	"testnet":          {"node", "chain", "rpc", "consensus/bls"},
	"explorer":         {"chain", "rpc"},
	"node":             {"chain", "consensus", "consensus/bls", "consensus/driver", "mempool", "p2p", "rpc"},
	"cmd":              {"*"},
	"internal":         {"*"},
}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	parts := strings.Split(rel, "/")
	if parts[0] == "consensus" && len(parts) > 1 {
		return "consensus/" + parts[1]
	}
	return parts[0]
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		from := area(pkg)
		rules, ok := allowed[from]
		if !ok {
			t.Errorf("%s: area %q has no import rule; add one to allowed", pkg, from)
			continue
		}
		checked++
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := area(imp)
			if to == from {
				continue
			}
			ok := false
			for _, r := range rules {
				if r == "*" || r == to {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: %s may not import %s", pkg, imp, from, to)
			}
		}
	}
	if checked < 4 {
		t.Fatalf("checked only %d packages; is go list working?", checked)
	}
}
