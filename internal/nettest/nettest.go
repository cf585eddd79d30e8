// Package nettest finds loopback addresses for tests that must name a port
// before something listens on it: a process given --xds-addr, or a second
// start that must reuse the first one's ports.
package nettest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address nobody listens on when it returns.
// Its port is outside the kernel's ephemeral range, where every listen on
// port 0 and every outgoing connection takes its port: a port from that
// range, free when returned, was often taken by another test's listener
// or connection before this test bound it. Ports outside the range are
// taken only by a listener naming them, and this process never returns
// one twice. Tests that can listen themselves on 127.0.0.1:0 should do
// that instead.
func FreeAddr(t testing.TB) string {
	t.Helper()
	lo, hi := ephemeralRange()
	handed.mu.Lock()
	defer handed.mu.Unlock()
	for range 1000 {
		// Below the ephemeral range, above the well-known ports.
		port := 10000 + rand.IntN(lo-10000)
		if hi < 65535 && rand.IntN(2) == 0 {
			port = hi + 1 + rand.IntN(65535-hi)
		}
		if handed.ports[port] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		handed.ports[port] = true
		return addr
	}
	t.Fatal("no free loopback port outside the ephemeral range in 1000 tries")
	return ""
}

// handed are the ports FreeAddr returned in this process.
var handed = struct {
	mu    sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// ephemeralRange is the kernel's range of ports for port 0 and outgoing
// connections; Linux's default where it cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	var l, h int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &l, &h); err != nil || l <= 10000 || h < l || h > 65535 {
		return lo, hi
	}
	return l, h
}
