package service

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/resource"
)

// setRecords replaces the service's issuance records with those loaded
// from its store, or with none when empty is set: what a restarted
// control plane holds, or one whose record of the agent's SVID is lost.
func (e *env) setRecords(empty bool) {
	e.t.Helper()
	loaded, err := loadIssuances(e.st, e.clock.now, hclog.NewNullLogger())
	if err != nil {
		e.t.Fatal(err)
	}
	if empty {
		loaded.byKey = map[string]*Issuance{}
	}
	is := e.svc.issued
	is.mu.Lock()
	is.byKey = loaded.byKey
	is.mu.Unlock()
}

// TestAnSVIDWithoutAnIssuanceRecordIsRefused checks that a lost issuance
// record does not turn a limited join token's SVID into an unlimited one:
// renewing with it, or registering anything new with it, is refused with
// a message that says how to re-attest, and no record without limits is
// started; the agent keeps its unchanged registration alive meanwhile. A
// restart, which reloads the records from the store, keeps the agent
// working with its limits.
func TestAnSVIDWithoutAnIssuanceRecordIsRefused(t *testing.T) {
	e := newEnv(t)
	a := e.limitedWebAgent()
	registered := resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web"}}
	if _, err := a.c.Register(ctx(t), "web-1", registered); err != nil {
		t.Fatal(err)
	}

	// A restart: the records come back from the store, limits included.
	e.setRecords(false)
	resp, err := a.c.Renew(ctx(t), a.csr(""))
	if err != nil {
		t.Fatalf("renewing after the records were reloaded: %v", err)
	}
	a.take(resp, e.ca.Bundle())
	if _, err := a.c.Register(ctx(t), "web-1", resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"api"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the reloaded record lost the token's services: %v", err)
	}

	// The record is lost: the SVID still verifies, but its limits are
	// unknown.
	e.setRecords(true)
	resp, err = a.c.Renew(ctx(t), a.csr(""))
	if status.Code(err) != codes.PermissionDenied || resp != nil {
		t.Fatalf("renewing an SVID without a record: %v, want PermissionDenied", err)
	}
	for _, want := range []string{"renewal refused", "no issuance record of SVID serial " + serialOf(a.current().Leaf),
		"give the agent a new join token (embassyctl token create --namespace shop --service-account a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	if recs := e.svc.Issuances(); len(recs) != 0 {
		t.Fatalf("a refused renewal started a record: %+v", recs)
	}
	// Without the refusal, the token's workload and service limits would
	// both be gone here.
	for name, spec := range map[string]resource.WorkloadSpec{
		"other": {Address: "127.0.0.1", Services: []string{"api"}},
		"web-1": {Address: "127.0.0.2", Services: []string{"web"}},
	} {
		_, err = a.c.Register(ctx(t), name, spec)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "a new or changed registration refused: embassy-cp has no issuance record") {
			t.Fatalf("registering %s %+v with an SVID without a record: %v", name, spec, err)
		}
	}
	if _, err := a.c.Register(ctx(t), "web-1", registered); err != nil {
		t.Fatalf("refreshing the unchanged registration without a record: %v", err)
	}
	if !strings.Contains(e.logs.String(), "refused an SVID without an issuance record") {
		t.Error("the refusal is not logged")
	}

	// A new join token restores the agent, with the new token's limits.
	e.attest(a, e.token("shop", "a", "web-1", time.Hour, true), "web-1")
	if _, err := a.c.Renew(ctx(t), a.csr("")); err != nil {
		t.Fatalf("renewing after re-attesting: %v", err)
	}
}

// TestRenewingOneSVIDOverAndOverDoesNotShedItsLimits checks the way a
// record went missing without any loss of data: a record remembers only
// its latest few serials, so the holder of a limited token's SVID who
// renews with the same certificate again and again pushes that serial out
// of its record. Presenting it once more used to start a record without
// the token's limits.
func TestRenewingOneSVIDOverAndOverDoesNotShedItsLimits(t *testing.T) {
	e := newEnv(t)
	a := e.limitedWebAgent()
	// The record drops the serial of the earliest expiry, the smallest
	// among those of one second: once the clock passes the first SVID's
	// second, a few renewals push it out.
	var refused error
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 10000 && refused == nil && time.Now().Before(deadline); i++ {
		_, refused = a.c.Renew(ctx(t), a.csr(""))
	}
	if status.Code(refused) != codes.PermissionDenied || !strings.Contains(refused.Error(), "renewal refused: embassy-cp has no issuance record") {
		t.Fatalf("renewing the same SVID until its serial left the record: %v, want PermissionDenied", refused)
	}
	_, err := a.c.Register(ctx(t), "other", resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"api"}})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "no issuance record") {
		t.Fatalf("registering beyond the token's limits with that SVID: %v", err)
	}
	for _, r := range e.svc.Issuances() {
		if r.OnlyWorkload != "web-1" || len(r.OnlyServices) != 1 {
			t.Fatalf("a record without the token's limits: %+v", r)
		}
	}
}
