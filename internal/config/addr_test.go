package config

import "testing"

func TestListenAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:0": true, ":6060": true, "localhost:1": true,
		"6060": false, "127.0.0.1:x": false, "127.0.0.1:70000": false, "example.org:80": false,
	} {
		if err := CheckListenAddr(addr); (err == nil) != ok {
			t.Errorf("%s: err=%v, want ok=%v", addr, err, ok)
		}
	}
}
