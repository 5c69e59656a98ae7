package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/bizra/node0"

// allowed lists, per package area, the areas of this module it may import
// directly. An area is the first path element below the module, or the
// whole path for consensus and internal subpackages. A package in an area
// missing here fails the test, so that a new package states its place.
var allowed = map[string][]string{
	// internal/config owns the TOML form of settings; it is a leaf, so that
	// every package that has settings may describe them with it.
	"internal/config":   {},
	"internal/depcheck": {},
	"chain":             {"internal/config"},
	"consensus/bls":     {},
	"consensus/sim":     {"consensus", "consensus/bls", "consensus/driver", "chain"},
	"consensus/driver":  {"consensus", "chain"},
	"consensus":         {"consensus/bls", "chain"},
	"mempool":           {"chain", "internal/config"},
	"p2p":               {"chain", "internal/config"},
	"rpc":               {"chain", "internal/config"},
	"testnet":           {"node", "chain", "rpc", "consensus/bls"},
	"explorer":          {"chain", "rpc", "internal/config"},
	"node":              {"chain", "consensus", "consensus/bls", "consensus/driver", "mempool", "p2p", "rpc", "internal/config"},
	"cmd":               {"*"},
}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	parts := strings.Split(rel, "/")
	if (parts[0] == "consensus" || parts[0] == "internal") && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

func TestArea(t *testing.T) {
	for pkg, want := range map[string]string{
		module + "/chain":                 "chain",
		module + "/consensus":             "consensus",
		module + "/consensus/sim":         "consensus/sim",
		module + "/internal/config":       "internal/config",
		module + "/internal/config/inner": "internal/config",
		module + "/cmd/bizra":             "cmd",
	} {
		if got := area(pkg); got != want {
			t.Errorf("area(%s) = %s, want %s", pkg, got, want)
		}
	}
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
