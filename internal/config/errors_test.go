package config

import (
	"errors"
	"reflect"
	"testing"
)

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
		{"a join with another problem", errors.Join(Errorf("fan_out", "too small"), other, Errorf("ttl", "too big")),
			"p2p.fan_out: too small\np2p: listen and bootstrap overlap\np2p.ttl: too big",
			[]string{"p2p.fan_out", "p2p.ttl"}, []error{other}},
		{"nested joins", errors.Join(errors.Join(Errorf("ttl", "too big")), Errorf("fan_out", "too small")),
			"p2p.ttl: too big\np2p.fan_out: too small", []string{"p2p.ttl", "p2p.fan_out"}, nil},
		{"not a field error", other, "p2p: listen and bootstrap overlap", nil, []error{other}},
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

func TestPrefixNests(t *testing.T) {
	inner := errors.Join(Errorf("fan_out", "too small"), errors.New("other"))
	got := Prefix("node", Prefix("p2p", inner))
	if k := keys(got); !reflect.DeepEqual(k, []string{"node.p2p.fan_out"}) {
		t.Fatalf("keys %q", k)
	}
	if got.Error() != "node.p2p.fan_out: too small\nnode: p2p: other" {
		t.Fatalf("message %q", got)
	}
	// The original is untouched.
	if k := keys(inner); !reflect.DeepEqual(k, []string{"fan_out"}) {
		t.Fatalf("Prefix changed its argument: %q", k)
	}
}
