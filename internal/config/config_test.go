package config

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Gossip is embedded anonymously in section: its keys sit in [sec].
type Gossip struct {
	FanOut   int           `toml:"fan_out" doc:"Mesh degree."`
	Interval time.Duration `toml:"interval" doc:"Heartbeat of the mesh."`
}

type inner struct {
	Depth uint8 `toml:"depth" doc:"How deep it goes."`
}

type section struct {
	Enabled bool `toml:"enabled" doc:"Turn the section on."`
	Gossip
	Peers []string `toml:"peers" doc:"Peers dialled at start: multiaddrs ending in /p2p/<peer id>, one string each."`
	Old   int      `toml:"old,deprecated" doc:"Replaced by fan_out."`
	Inner inner    `toml:"inner" doc:"A nested table."`
}

type testConfig struct {
	Name    string  `toml:"name" doc:"Name in logs."`
	Count   int8    `toml:"count" doc:"A small signed number."`
	Big     int64   `toml:"big" doc:"A large signed number."`
	Small   uint16  `toml:"small" doc:"A small unsigned number."`
	Huge    uint64  `toml:"huge" doc:"A large unsigned number."`
	Ratio   float64 `toml:"ratio" doc:"A ratio."`
	Ratio32 float32 `toml:"ratio32" doc:"A single-precision ratio."`
	Skip    int     `toml:"-"`
	Sec     section `toml:"sec" doc:"The section."`
	Empty   struct {
		Hidden int `toml:"-"`
	} `toml:"empty"`
	private int
}

func defaultTestConfig() testConfig {
	return testConfig{
		Name: "node0", Count: 3, Big: 1 << 40, Small: 80, Huge: 7, Ratio: 2, Ratio32: 0.5, Skip: 9,
		Sec: section{Enabled: true, Gossip: Gossip{FanOut: 6, Interval: 100 * time.Millisecond}, Peers: []string{}, Inner: inner{Depth: 2}},
	}
}

func decodeString(t *testing.T, doc string) (testConfig, error) {
	t.Helper()
	c := defaultTestConfig()
	err := Decode("test.toml", []byte(doc), &c)
	return c, err
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		edit func(c *testConfig)
	}{
		{"empty keeps defaults", "", func(*testConfig) {}},
		{"comments only", "# nothing\n\n   # here\n", func(*testConfig) {}},
		{"every type", `name = "alpha"
count = -128
big = -9_223_372_036_854_775_808
small = 65535
huge = 9223372036854775807
ratio = 1.5e3
ratio32 = -0.25
[sec]
enabled = false
fan_out = 3
interval = "1m30s"
peers = ["a", 'b', """c"""]
[sec.inner]
depth = 255
`, func(c *testConfig) {
			c.Name, c.Count, c.Big, c.Small, c.Huge, c.Ratio, c.Ratio32 = "alpha", -128, math.MinInt64, 65535, math.MaxInt64, 1500, -0.25
			c.Sec.Enabled, c.Sec.FanOut, c.Sec.Interval, c.Sec.Peers, c.Sec.Inner.Depth = false, 3, 90*time.Second, []string{"a", "b", "c"}, 255
		}},
		{"integer forms", "count = 0x7f\nbig = 0o17\nsmall = 0b1010\nhuge = +1_000\n", func(c *testConfig) {
			c.Count, c.Big, c.Small, c.Huge = 127, 15, 10, 1000
		}},
		{"integer for a float", "ratio = 100000\nratio32 = -3\n", func(c *testConfig) { c.Ratio, c.Ratio32 = 100000, -3 }},
		{"special floats", "ratio = -inf\n", func(c *testConfig) { c.Ratio = math.Inf(-1) }},
		{"dotted keys from the root", "sec.fan_out = 9\nsec.inner.depth = 1\n", func(c *testConfig) { c.Sec.FanOut, c.Sec.Inner.Depth = 9, 1 }},
		{"dotted key into a sub-table", "[sec]\ninner.depth = 4\n", func(c *testConfig) { c.Sec.Inner.Depth = 4 }},
		{"inline table", "[sec]\ninner = { depth = 5 }\n", func(c *testConfig) { c.Sec.Inner.Depth = 5 }},
		{"sub-table before its parent", "[sec.inner]\ndepth = 6\n[sec]\nfan_out = 1\n", func(c *testConfig) { c.Sec.Inner.Depth, c.Sec.FanOut = 6, 1 }},
		{"empty array", "[sec]\npeers = []\n", func(c *testConfig) { c.Sec.Peers = []string{} }},
		{"deprecated key still read", "[sec]\nold = 4\n", func(c *testConfig) { c.Sec.Old = 4 }},
		{"quoted keys", "\"name\" = \"q\"\n['sec']\n\"fan_out\" = 2\n", func(c *testConfig) { c.Name, c.Sec.FanOut = "q", 2 }},
		{"escapes", `name = "tab\there \"quoted\" \u00e9"`, func(c *testConfig) { c.Name = "tab\there \"quoted\" é" }},
		{"CRLF lines", "name = \"w\"\r\n[sec]\r\nfan_out = 8\r\n", func(c *testConfig) { c.Name, c.Sec.FanOut = "w", 8 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeString(t, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			want := defaultTestConfig()
			tc.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name      string
		doc       string
		kind      error
		line, col int
		key       string
		msg       string // part of the message
	}{
		{"unknown key", "name = \"x\"\n  colour = \"blue\"\n", ErrUnknownKey, 2, 3, "colour", "unknown key"},
		{"unknown key in a section", "[sec]\nfan_outt = 3\n", ErrUnknownKey, 2, 1, "sec.fan_outt", ""},
		{"unknown table", "[consensus]\nx = 1\ny = 2\n", ErrUnknownKey, 1, 2, "consensus", ""},
		{"unknown sub-table", "[sec.outer]\n", ErrUnknownKey, 1, 6, "sec.outer", ""},
		{"unknown dotted part", "sec.nope.x = 1\n", ErrUnknownKey, 1, 5, "sec.nope", ""},
		{"unknown dotted leaf", "sec.inner.deep = 1\n", ErrUnknownKey, 1, 11, "sec.inner.deep", ""},
		{"skipped field is unknown", "Skip = 1\n", ErrUnknownKey, 1, 1, "Skip", ""},
		{"hidden field is unknown", "[empty]\nhidden = 1\n", ErrUnknownKey, 2, 1, "empty.hidden", ""},
		{"string for an integer", "count = \"many\"\n", ErrType, 1, 9, "count", "want an integer, not a string"},
		{"float for an integer", "count = 1.0\n", ErrType, 1, 9, "count", "not a float"},
		{"integer for a string", "name = 5\n", ErrType, 1, 8, "name", "want a string, not an integer"},
		{"string for a bool", "[sec]\nenabled = \"yes\"\n", ErrType, 2, 11, "sec.enabled", "true or false"},
		{"bad duration", "[sec]\ninterval = \"forever\"\n", ErrType, 2, 12, "sec.interval", `not "forever"`},
		{"integer duration", "[sec]\ninterval = 100\n", ErrType, 2, 12, "sec.interval", "duration string"},
		{"array of integers", "[sec]\npeers = [1, 2]\n", ErrType, 2, 1, "sec.peers", "holding an integer"},
		{"string for an array", "[sec]\npeers = \"a\"\n", ErrType, 2, 9, "sec.peers", "array of strings"},
		{"date", "name = 1979-05-27\n", ErrType, 1, 8, "name", "a date or time"},
		{"value for a table", "sec = 1\n", ErrType, 1, 7, "sec", "a table, not an integer"},
		{"header naming a setting", "[name]\n", ErrType, 1, 2, "name", "a setting, not a table"},
		{"dotted through a setting", "name.x = 1\n", ErrType, 1, 1, "name", "a setting, not a table"},
		{"array of tables", "[[sec]]\n", ErrType, 1, 3, "sec", "arrays of tables"},
		{"int8 too large", "count = 200\n", ErrRange, 1, 9, "count", "200 is not between -128 and 127"},
		{"uint negative", "small = -1\n", ErrRange, 1, 9, "small", "-1 is not between 0 and 65535"},
		{"uint8 too large", "[sec.inner]\ndepth = 256\n", ErrRange, 2, 9, "sec.inner.depth", "256 is not between 0 and 255"},
		{"beyond 64 bits", "big = 9223372036854775808\n", ErrRange, 1, 7, "big", "does not fit in 64 bits"},
		{"float32 too large", "ratio32 = 1e300\n", ErrRange, 1, 11, "ratio32", "32 bits"},
		{"key twice", "name = \"a\"\nname = \"b\"\n", ErrDuplicate, 2, 1, "name", "first at line 1, column 1"},
		{"embedded key twice", "[sec]\nfan_out = 1\nfan_out = 2\n", ErrDuplicate, 3, 1, "sec.fan_out", "line 2"},
		{"table twice", "[sec]\n[sec]\n", ErrDuplicate, 2, 2, "sec", "line 1"},
		{"header after dotted keys", "sec.fan_out = 1\n[sec]\n", ErrDuplicate, 2, 2, "sec", ""},
		{"dotted keys into a header table", "[sec.inner]\ndepth = 1\n[sec]\ninner.depth = 2\n", ErrDuplicate, 4, 1, "sec.inner", ""},
		{"inline table extended", "[sec]\ninner = { depth = 1 }\n[sec.inner]\n", ErrDuplicate, 3, 6, "sec.inner", "first at line 2, column 1"},
		{"inline table then dotted", "[sec]\ninner = { depth = 1 }\ninner.depth = 2\n", ErrDuplicate, 3, 1, "sec.inner", ""},
		{"key twice in an inline table", "[sec]\ninner = { depth = 1, depth = 2 }\n", ErrDuplicate, 2, 22, "sec.inner.depth", ""},
		{"syntax", "name = \n", ErrSyntax, 1, 8, "", ""},
		{"syntax later", "name = \"a\"\n[sec\n", ErrSyntax, 2, 5, "", ""},
		{"invalid UTF-8", "name = \"a\xffb\"\n", ErrSyntax, 1, 10, "", "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeString(t, tc.doc)
			if err == nil {
				t.Fatalf("accepted; got %+v", got)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%v is not a *DecodeError", err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("%v is not %v", err, tc.kind)
			}
			if de.File != "test.toml" || de.Line != tc.line || de.Column != tc.col || de.Key != tc.key {
				t.Errorf("at %s:%d:%d key %q, want test.toml:%d:%d key %q (%v)", de.File, de.Line, de.Column, de.Key, tc.line, tc.col, tc.key, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%q does not say %q", err, tc.msg)
			}
			if !reflect.DeepEqual(got, defaultTestConfig()) {
				t.Errorf("a failed Decode changed the value: %+v", got)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	_, err := decodeString(t, "colour = 1\ncount = 999\n[nope]\nignored = 1\n[sec]\nfan_out = \"x\"\n")
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"test.toml:1:1: colour: unknown key",
		"test.toml:2:9: count: out of range: 999 is not between -128 and 127",
		"test.toml:3:2: nope: unknown key",
		"test.toml:6:11: sec.fan_out: wrong type: want an integer, not a string",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(path, []byte("name = \"file\"\ncount = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaultTestConfig()
	err := DecodeFile(path, &c)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:9: count: ") {
		t.Fatalf("got %v, want an error at %s:2:9", err, path)
	}
	if err := DecodeFile(filepath.Join(t.TempDir(), "missing.toml"), &c); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSchemaErrors(t *testing.T) {
	type untagged struct{ A int }
	type badType struct {
		A map[string]int `toml:"a"`
	}
	type badOption struct {
		A int `toml:"a,omitempty"`
	}
	type E1 struct {
		X int `toml:"x"`
	}
	type clash struct {
		E1
		X int `toml:"x"`
	}
	type pointerEmbed struct {
		*E1
	}
	type notStruct int
	type embedNonStruct struct {
		notStruct
	}
	for name, v := range map[string]any{
		"untagged field":         &untagged{},
		"unsupported type":       &badType{},
		"unknown option":         &badOption{},
		"key twice by embedding": &clash{},
		"embedded pointer":       &pointerEmbed{},
		"embedded non-struct":    &embedNonStruct{},
		"not a pointer":          testConfig{},
		"not a struct":           new(int),
	} {
		t.Run(name, func(t *testing.T) {
			if err := Decode("x.toml", nil, v); err == nil {
				t.Error("Decode accepted it")
			}
			if _, err := Encode(v, nil); err == nil && name != "not a pointer" {
				t.Error("Encode accepted it")
			}
		})
	}
}

func TestEncodeGolden(t *testing.T) {
	c := defaultTestConfig()
	c.Name = "a \"quoted\"\tname\x01"
	c.Ratio = 1e21
	c.Sec.Peers = []string{"/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp", "b"}
	c.Sec.Interval = 90 * time.Minute
	c.Sec.Old = 5 // deprecated: not written
	got, err := Encode(&c, defaultTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "encode.golden.toml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("Encode output differs from %s (go test -update to accept):\n%s", golden, got)
	}
	if strings.Contains(string(got), "\nold =") {
		t.Error("a deprecated key was written")
	}
	// What was written reads back as the value (but for the deprecated key).
	back := defaultTestConfig()
	if err := Decode("golden", got, &back); err != nil {
		t.Fatal(err)
	}
	c.Sec.Old = 0
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("read back %+v\nwant      %+v", back, c)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for name, edit := range map[string]func(c *testConfig){
		"defaults":      func(*testConfig) {},
		"extremes":      func(c *testConfig) { c.Count, c.Big, c.Huge, c.Small = -128, math.MinInt64, math.MaxUint64, 0 },
		"floats":        func(c *testConfig) { c.Ratio, c.Ratio32 = -1.25e-7, 3.4e38 },
		"negative zero": func(c *testConfig) { c.Ratio = math.Copysign(0, -1) },
		"durations":     func(c *testConfig) { c.Sec.Interval = -(time.Hour + 1500*time.Millisecond) },
		"strings":       func(c *testConfig) { c.Name = "line\nbreak\r\\ \x7f é ☃"; c.Sec.Peers = []string{"", "\""} },
	} {
		t.Run(name, func(t *testing.T) {
			c := defaultTestConfig()
			edit(&c)
			out, err := Encode(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			var back testConfig
			back.Skip = c.Skip
			if err := Decode("out", out, &back); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) || math.Signbit(back.Ratio) != math.Signbit(c.Ratio) {
				t.Fatalf("read back %+v\nwant      %+v\n%s", back, c, out)
			}
			if strings.Contains(string(out), "Default") {
				t.Error("nil defaults wrote a default")
			}
		})
	}
	if huge, _ := Encode(testConfig{Huge: math.MaxUint64}, nil); !strings.Contains(string(huge), "huge = 18446744073709551615") {
		t.Error("uint64 above the int64 range not written")
	}
}

func TestEncodeRefuses(t *testing.T) {
	type undocumented struct {
		A int `toml:"a"`
	}
	if _, err := Encode(undocumented{}, nil); err == nil || !strings.Contains(err.Error(), "a has no doc") {
		t.Errorf("a setting without doc: %v", err)
	}
	if _, err := Encode(testConfig{}, undocumentedDefaults{}); err == nil {
		t.Error("defaults of another type accepted")
	}
}

type undocumentedDefaults struct{}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m", 100 * time.Millisecond: "100ms",
		time.Hour + 30*time.Second: "1h0m30s", 61500 * time.Millisecond: "1m1.5s", -10 * time.Minute: "-10m",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("%q reads back as %v, %v", got, back, err)
		}
	}
}
