package depcheck

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/bizra/node0"

// allowed lists, per package area, the areas of this module it may import
// directly, besides the leaves. An area is the first path element below
// the module, or the first two for packages under consensus/ and
// internal/. A package in an area missing here fails the test, so that a
// new package states its place.
var allowed = map[string][]string{
	"chain":             {},
	"consensus/bls":     {},
	"consensus/sim":     {"consensus", "consensus/bls", "consensus/driver", "chain"},
	"consensus/driver":  {"consensus", "chain"},
	"consensus":         {"consensus/bls", "chain"},
	"mempool":           {"chain"},
	"p2p":               {"chain"},
	"rpc":               {"chain"},
	"testnet":           {"node", "chain", "rpc", "consensus/bls"},
	"explorer":          {"chain", "rpc"},
	"node":              {"chain", "consensus", "consensus/bls", "consensus/driver", "mempool", "p2p", "rpc"},
	"cmd":               {"*"},
	"internal/depcheck": {"*"},
}

// leaves are areas that import nothing of this module (their rule is
// empty) and that every other area may import: mechanics shared below
// every package (the binary codec, the TOML form of settings).
var leaves = []string{"internal/codec", "internal/config"}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	parts := strings.Split(rel, "/")
	if (parts[0] == "consensus" || parts[0] == "internal") && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// violations checks lines of `go list` output (a package, then the
// packages it imports) against the rules.
func violations(lines []string) (problems []string, checked int) {
	for _, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, imports := fields[0], fields[1:]
		from := area(pkg)
		rules, ok := allowed[from]
		if slices.Contains(leaves, from) {
			rules, ok = nil, true
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: area %q has no import rule; add one to allowed", pkg, from))
			continue
		}
		checked++
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := area(imp)
			if to == from || slices.Contains(rules, "*") || slices.Contains(rules, to) {
				continue
			}
			if slices.Contains(leaves, to) && !slices.Contains(leaves, from) {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s imports %s: %s may not import %s", pkg, imp, from, to))
		}
	}
	return problems, checked
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	problems, checked := violations(strings.Split(strings.TrimSpace(string(out)), "\n"))
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 4 {
		t.Fatalf("checked only %d packages; is go list working?", checked)
	}
}

// TestRules checks the checker on made-up import lists.
func TestRules(t *testing.T) {
	// m is a line of go list output for packages of this module.
	m := func(pkgs ...string) string {
		for i := range pkgs {
			pkgs[i] = module + "/" + pkgs[i]
		}
		return strings.Join(pkgs, " ")
	}
	tests := []struct {
		name string
		line string
		bad  bool
	}{
		{"chain imports the codec", m("chain", "internal/codec") + " fmt", false},
		{"consensus imports the codec and chain", m("consensus", "internal/codec", "chain", "consensus/bls"), false},
		{"a consensus subpackage imports the codec", m("consensus/sim", "internal/codec"), false},
		{"node imports the codec", m("node", "internal/codec"), false},
		{"the codec imports the standard library", m("internal/codec") + " encoding/binary", false},
		{"chain imports consensus", m("chain", "consensus"), true},
		{"chain imports a non-leaf internal package", m("chain", "internal/depcheck"), true},
		{"the codec imports chain", m("internal/codec", "chain"), true},
		{"mempool imports the config leaf", m("mempool", "internal/config"), false},
		{"one leaf imports the other", m("internal/codec", "internal/config"), true},
		{"consensus imports mempool", m("consensus", "mempool"), true},
		{"an internal package without a rule", m("internal/newthing"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems, _ := violations([]string{tt.line})
			if bad := len(problems) > 0; bad != tt.bad {
				t.Fatalf("%q: problems %q, want a problem: %v", tt.line, problems, tt.bad)
			}
		})
	}
	if a := area(module + "/internal/codec"); a != "internal/codec" {
		t.Errorf("area of internal/codec is %q", a)
	}
	if a := area(module + "/consensus/sim"); a != "consensus/sim" {
		t.Errorf("area of consensus/sim is %q", a)
	}
}
