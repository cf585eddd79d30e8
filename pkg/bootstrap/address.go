package bootstrap

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// hostPort is a parsed "host:port" whose host is either an IP or a name.
type hostPort struct {
	host string
	port uint32
	ip   netip.Addr // valid only when host is an IP literal
}

// parseHostPort accepts "host:port" with a port in 1..65535. field names the
// option in errors.
func parseHostPort(field, s string) (hostPort, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return hostPort{}, fmt.Errorf("%s %q: expected host:port: %w", field, s, err)
	}
	if host == "" {
		return hostPort{}, fmt.Errorf("%s %q: host is empty", field, s)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return hostPort{}, fmt.Errorf("%s %q: port must be a number in 1..65535", field, s)
	}
	hp := hostPort{host: host, port: uint32(port)}
	if ip, err := netip.ParseAddr(host); err == nil {
		hp.ip = ip
	}
	return hp, nil
}
