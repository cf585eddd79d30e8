package nettest

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddr's ports lie outside the ephemeral range, are never returned
// twice, and can be listened on.
func TestFreeAddrIsOutsideTheEphemeralRangeAndNotRepeated(t *testing.T) {
	lo, hi := ephemeralRange()
	seen := map[string]bool{}
	for range 200 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("%s returned twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if port >= lo && port <= hi {
			t.Fatalf("%s is in the ephemeral range %d-%d", addr, lo, hi)
		}
	}
	l, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
