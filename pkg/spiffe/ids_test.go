package spiffe

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var testTD = spiffeid.RequireTrustDomainFromString(DefaultTrustDomain)

func TestIDs(t *testing.T) {
	id, err := IDFor(testTD, "shop", "cart")
	if err != nil || id.String() != "spiffe://embassy.local/ns/shop/sa/cart" {
		t.Fatalf("IDFor = %q, %v", id, err)
	}
	ns, sa, err := ParseWorkloadID(id)
	if err != nil || ns != "shop" || sa != "cart" {
		t.Fatalf("ParseWorkloadID = %q, %q, %v", ns, sa, err)
	}
	if got := ControlPlaneID(testTD).String(); got != "spiffe://embassy.local/ns/embassy-system/sa/embassy-cp" {
		t.Fatalf("ControlPlaneID = %q", got)
	}
	for _, bad := range [][2]string{{"", "a"}, {"a", ""}, {"a/b", "c"}, {"..", "c"}, {"a", "c d"}} {
		if _, err := IDFor(testTD, bad[0], bad[1]); err == nil {
			t.Errorf("IDFor(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := IDFor(spiffeid.TrustDomain{}, "a", "b"); err == nil {
		t.Error("IDFor accepted the zero trust domain")
	}
	for _, s := range []string{
		"spiffe://embassy.local",
		"spiffe://embassy.local/ns/shop",
		"spiffe://embassy.local/ns/shop/sa/cart/extra",
		"spiffe://embassy.local/namespace/shop/sa/cart",
		"spiffe://embassy.local/ns/shop/serviceaccount/cart",
		"spiffe://embassy.local/ns/embassy-system/sa/embassy-cp",
	} {
		if _, _, err := ParseWorkloadID(spiffeid.RequireFromString(s)); err == nil {
			t.Errorf("ParseWorkloadID(%q) accepted", s)
		}
	}
	if _, _, err := ParseWorkloadID(spiffeid.ID{}); err == nil {
		t.Error("ParseWorkloadID accepted the zero ID")
	}
}
