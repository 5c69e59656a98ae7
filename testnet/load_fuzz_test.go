package testnet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// FuzzParseSendAnswer: any answer decodes without panicking, and a hash
// found without the JSON decoder is the one the decoder finds.
func FuzzParseSendAnswer(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1111111111111111111111111111111111111111111111111111111111111111"}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"txpool is full","data":{"reason":"pool_full","retry_after_ms":100}}}`))
	f.Add([]byte(`{"error":{"code":-32005,"message":"x","data":"answer too large"}}`))
	f.Add([]byte(`answer dropped`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a := parseSendAnswer(b)
		if a.ok && a.isError {
			t.Fatal("both a result and an error")
		}
		if a.retryAfterMs < 0 || a.retryAfterMs >= 3_600_000 {
			t.Fatalf("retry after %d ms", a.retryAfterMs)
		}
		if !a.ok || !json.Valid(b) {
			return
		}
		var resp struct {
			Result string `json:"result"`
		}
		if json.Unmarshal(b, &resp) != nil || len(resp.Result) != 66 || resp.Result[:2] != "0x" {
			return // the fast path matched text the decoder reads otherwise
		}
		want, err := hex.DecodeString(resp.Result[2:])
		if err == nil && !bytes.Equal(want, a.hash[:]) && bytes.Count(b, []byte(`"result"`)) == 1 {
			t.Fatalf("hash %x, the decoder says %x", a.hash, want)
		}
	})
}

// FuzzParseCPUSeconds: any exposition parses without panicking, to a
// finite non-negative value or an error.
func FuzzParseCPUSeconds(f *testing.F) {
	f.Add([]byte("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"))
	f.Add([]byte("process_cpu_seconds_total{a=\"}\"} 2 123\n"))
	f.Add([]byte("process_cpu_seconds_total\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseCPUSeconds(bytes.NewReader(b))
		if err == nil && (v < 0 || v != v || v > 1e15) {
			t.Fatalf("value %g", v)
		}
		if err != nil && v != 0 {
			t.Fatalf("value %g with error %v", v, err)
		}
	})
}
