package bootstrap

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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

// parseHostPorts accepts one or more "host:port", comma-separated (the
// replicas of one control plane), in the order given, each named once.
// field names the option in errors.
func parseHostPorts(field, s string) ([]hostPort, error) {
	var out []hostPort
	var seen []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%s %q: an address is empty: list host:port addresses separated by single commas", field, s)
		}
		if slices.Contains(seen, part) {
			return nil, fmt.Errorf("%s %q: %s is listed twice", field, s, part)
		}
		hp, err := parseHostPort(field, part)
		if err != nil {
			return nil, err
		}
		out, seen = append(out, hp), append(seen, part)
	}
	return out, nil
}

// String is the address as host:port.
func (hp hostPort) String() string {
	return net.JoinHostPort(hp.host, strconv.FormatUint(uint64(hp.port), 10))
}
