package config

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds documents to Decode. It must never panic, every error
// must be a *DecodeError naming the file, and a document it accepts must
// encode to a file that decodes to the same encoding again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("name = \"x\"\n[sec]\nfan_out = 3\n"))
	f.Add([]byte("sec.inner = { depth = 1 }\nratio = nan\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := defaultTestConfig()
		err := Decode("fuzz.toml", doc, &c)
		if err != nil {
			for _, line := range bytes.Split([]byte(err.Error()), []byte("\n")) {
				if !bytes.HasPrefix(line, []byte("fuzz.toml:")) {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		out, err := Encode(&c, defaultTestConfig())
		if err != nil {
			t.Fatal(err)
		}
		back := defaultTestConfig()
		if err := Decode("encoded", out, &back); err != nil {
			t.Fatalf("encoded file does not decode: %v\n%s", err, out)
		}
		again, err := Encode(&back, defaultTestConfig())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("encoding changed on the way back:\n%s\n---\n%s", out, again)
		}
	})
}
