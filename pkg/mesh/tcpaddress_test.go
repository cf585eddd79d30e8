package mesh

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestTCPAddressRange checks, over many names, that the address is
// stable, in 127.64.0.0/10, and never a /24's .0 or .255.
func TestTCPAddressRange(t *testing.T) {
	span := netip.MustParsePrefix("127.64.0.0/10")
	seen := map[string]bool{}
	for i := range 5000 {
		ref := ServiceRef{Namespace: fmt.Sprintf("ns%d", i%7), Name: fmt.Sprintf("svc-%d", i)}
		a := ref.TCPAddress()
		if a != ref.TCPAddress() {
			t.Fatalf("%s: address not stable", ref)
		}
		ip, err := netip.ParseAddr(a)
		if err != nil || !span.Contains(ip) {
			t.Fatalf("%s: %s is not in %s", ref, a, span)
		}
		if last := ip.As4()[3]; last == 0 || last == 255 {
			t.Fatalf("%s: %s ends in .%d", ref, a, last)
		}
		seen[a] = true
	}
	// 5,000 names over 4 million addresses: a handful of collisions at most.
	if len(seen) < 4990 {
		t.Errorf("only %d distinct addresses for 5000 names", len(seen))
	}
}
