package config

import (
	"fmt"
	"net"
	"strconv"
)

// CheckListenAddr checks a TCP listen address setting: host:port with a
// numeric port (0 picks a free one) and a host that is an IP address,
// localhost, or empty (every interface).
func CheckListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: host must be an IP address or localhost", addr)
	}
	return nil
}
