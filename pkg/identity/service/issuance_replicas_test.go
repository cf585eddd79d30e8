package service

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// TestIssuanceRecordsSharedByControlPlanesOnOneStore keeps the records of
// two control planes on one store: an agent that attested on one renews
// on the other (after a failover), and records both write at once are
// all kept.
func TestIssuanceRecordsSharedByControlPlanesOnOneStore(t *testing.T) {
	mem := store.NewMemory()
	now := time.Now
	a, err := loadIssuances(mem, now, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadIssuances(mem, now, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: now(), NotAfter: now().Add(time.Hour)}
	}
	web := spiffeid.RequireFromString("spiffe://embassy.test/ns/shop/sa/web")
	a.attested(web, "web-1", identity.TokenInfo{ID: "t1", Workload: "web-1"}, leaf(1))
	rec, ok := b.find(web, leaf(1))
	if !ok || rec.OnlyWorkload != "web-1" || rec.TokenID != "t1" {
		t.Fatalf("the other control plane finds %+v, %v; want the record with the token's limits", rec, ok)
	}
	if !b.renewed(web, leaf(1), leaf(2)) {
		t.Fatal("the other control plane could not renew an SVID attested on the first")
	}
	if rec, ok := a.find(web, leaf(2)); !ok || rec.OnlyWorkload != "web-1" {
		t.Fatalf("the first control plane does not know the renewed SVID: %+v, %v", rec, ok)
	}
	api := spiffeid.RequireFromString("spiffe://embassy.test/ns/shop/sa/api")
	db := spiffeid.RequireFromString("spiffe://embassy.test/ns/shop/sa/db")
	a.attested(api, "api-1", identity.TokenInfo{ID: "t2"}, leaf(3))
	b.attested(db, "db-1", identity.TokenInfo{ID: "t3"}, leaf(4)) // over a stale read
	for name, is := range map[string]*issuances{"first": a, "second": b} {
		if n := len(is.list()); n != 3 {
			t.Errorf("the %s control plane lists %d records, want 3 (none lost to the other's write)", name, n)
		}
	}
}
