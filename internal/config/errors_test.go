package config

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

var errSentinel = errors.New("p2p: invalid config")

// validateLike returns what a package's Validate returns: its sentinel and
// every problem.
func validateLike(errs ...error) error {
	return fmt.Errorf("%w:\n%w", errSentinel, errors.Join(errs...))
}

type wrapper struct{ err error }

func (w *wrapper) Error() string { return "custom: " + w.err.Error() }
func (w *wrapper) Unwrap() error { return w.err }

func keys(err error) []string {
	var out []string
	for _, fe := range FieldErrors(err) {
		out = append(out, fe.Key)
	}
	return out
}

func TestFieldError(t *testing.T) {
	base := errors.New("base")
	err := Errorf("fan_out", "must be between 2 and 64, not %d (%w)", 1, base)
	if err.Error() != "fan_out: must be between 2 and 64, not 1 (base)" {
		t.Fatalf("message %q", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "fan_out" || !errors.Is(err, base) {
		t.Fatalf("%#v", err)
	}
}

func TestPrefix(t *testing.T) {
	other := errors.New("listen and bootstrap overlap")
	cases := []struct {
		name string
		err  error
		msg  string
		keys []string
		is   []error
	}{
		{"nil", nil, "", nil, nil},
		{"one field", Errorf("fan_out", "must be between 2 and 64, not 1"), "p2p.fan_out: must be between 2 and 64, not 1", []string{"p2p.fan_out"}, nil},
		{"empty key", Errorf("", "bad"), "p2p: bad", []string{"p2p"}, nil},
		{"join", errors.Join(Errorf("ttl", "too big"), Errorf("fan_out", "too small")),
			"p2p.ttl: too big\np2p.fan_out: too small", []string{"p2p.ttl", "p2p.fan_out"}, nil},
		{"a package's Validate", validateLike(Errorf("fan_out", "too small"), other, Errorf("ttl", "too big")),
			"p2p: invalid config:\np2p.fan_out: too small\np2p: listen and bootstrap overlap\np2p.ttl: too big",
			[]string{"p2p.fan_out", "p2p.ttl"}, []error{errSentinel, other}},
		{"not a field error", other, "p2p: listen and bootstrap overlap", nil, []error{other}},
		{"already names the section", fmt.Errorf("%w: ed25519 key of 3 bytes", errSentinel), "p2p: invalid config: ed25519 key of 3 bytes", nil, []error{errSentinel}},
		{"single wrap", fmt.Errorf("checking: %w", Errorf("ttl", "too big")), "checking: p2p.ttl: too big", []string{"p2p.ttl"}, nil},
		{"custom wrapper", &wrapper{Errorf("ttl", "too big")}, "custom: p2p.ttl: too big", []string{"p2p.ttl"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Prefix("p2p", tc.err)
			if tc.err == nil {
				if got != nil {
					t.Fatalf("Prefix(nil) = %v", got)
				}
				return
			}
			if got.Error() != tc.msg {
				t.Errorf("message\n%s\nwant\n%s", got, tc.msg)
			}
			if k := keys(got); !reflect.DeepEqual(k, tc.keys) {
				t.Errorf("keys %q, want %q", k, tc.keys)
			}
			for _, target := range tc.is {
				if !errors.Is(got, target) {
					t.Errorf("errors.Is(%v) lost", target)
				}
			}
		})
	}
}

func TestPrefixKeepsWrapperIdentity(t *testing.T) {
	got := Prefix("rpc", &wrapper{Errorf("max_batch", "must be positive")})
	var w *wrapper
	if !errors.As(got, &w) {
		t.Fatal("errors.As no longer finds the wrapper")
	}
	var fe *FieldError
	if !errors.As(got, &fe) || fe.Key != "rpc.max_batch" {
		t.Fatalf("field error %+v", fe)
	}
}

func TestPrefixNests(t *testing.T) {
	inner := validateLike(Errorf("fan_out", "too small"))
	got := Prefix("node", Prefix("p2p", inner))
	if k := keys(got); !reflect.DeepEqual(k, []string{"node.p2p.fan_out"}) {
		t.Fatalf("keys %q", k)
	}
	if got.Error() != "node: p2p: invalid config:\nnode.p2p.fan_out: too small" {
		t.Fatalf("message %q", got)
	}
	// The original is untouched.
	if k := keys(inner); !reflect.DeepEqual(k, []string{"fan_out"}) {
		t.Fatalf("Prefix changed its argument: %q", k)
	}
}
