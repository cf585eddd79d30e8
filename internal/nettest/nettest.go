// Package nettest finds loopback addresses for tests that must name a port
// before something listens on it: a process given --xds-addr, or a second
// start that must reuse the first one's ports.
package nettest

import (
	"net"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address nobody listens on when it returns.
// Another process may take it before the test binds it; tests that can
// listen themselves on 127.0.0.1:0 should do that instead.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
