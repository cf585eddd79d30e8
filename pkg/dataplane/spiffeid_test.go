package dataplane

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var testTD = spiffeid.RequireTrustDomainFromString(DefaultTrustDomain)

func TestIDs(t *testing.T) {
	id, err := WorkloadID(testTD, "shop", "cart")
	if err != nil || id.String() != "spiffe://embassy.local/ns/shop/sa/cart" {
		t.Fatalf("WorkloadID = %q, %v", id, err)
	}
	ns, sa, err := ParseWorkloadID(id)
	if err != nil || ns != "shop" || sa != "cart" {
		t.Fatalf("ParseWorkloadID = %q, %q, %v", ns, sa, err)
	}
	if got := ControlPlaneID(testTD).String(); got != "spiffe://embassy.local/ns/embassy-system/sa/embassy-cp" {
		t.Fatalf("ControlPlaneID = %q", got)
	}
	for _, bad := range [][2]string{{"", "a"}, {"a", ""}, {"a/b", "c"}, {"..", "c"}, {"a", "c d"}} {
		if _, err := WorkloadID(testTD, bad[0], bad[1]); err == nil {
			t.Errorf("WorkloadID(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := WorkloadID(spiffeid.TrustDomain{}, "a", "b"); err == nil {
		t.Error("WorkloadID accepted the zero trust domain")
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

// The text form the translator and bootstraps use is the validated ID's.
func TestIDStringsAreTheIDs(t *testing.T) {
	id, err := WorkloadID(testTD, "shop", "cart")
	if err != nil || WorkloadIDString(DefaultTrustDomain, "shop", "cart") != id.String() {
		t.Fatalf("WorkloadIDString = %q, WorkloadID = %q, %v", WorkloadIDString(DefaultTrustDomain, "shop", "cart"), id, err)
	}
	if got, want := ControlPlaneIDString(DefaultTrustDomain), ControlPlaneID(testTD).String(); got != want {
		t.Fatalf("ControlPlaneIDString = %q, want %q", got, want)
	}
	if p := TrustDomainPrefix(DefaultTrustDomain); !strings.HasPrefix(id.String(), p) {
		t.Fatalf("%q does not start with TrustDomainPrefix %q", id, p)
	}
}

// IDNamespace reads what WorkloadIDString writes, and says when text holds
// no namespace.
func TestIDNamespace(t *testing.T) {
	if ns, ok := IDNamespace(WorkloadIDString("td", "shop", "cart")); !ok || ns != "shop" {
		t.Fatalf("IDNamespace = %q, %v; want shop", ns, ok)
	}
	for _, id := range []string{"", "spiffe://td", "spiffe://td/ns/", "spiffe://td/ns//sa/x", "web-1.shop"} {
		if ns, ok := IDNamespace(id); ok {
			t.Errorf("IDNamespace(%q) = %q, want none", id, ns)
		}
	}
}
