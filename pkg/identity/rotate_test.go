package identity

import (
	"bytes"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"embassy.dev/embassy/pkg/store"
)

func TestRestartKeepsRootsAndVerifiesOldLeaves(t *testing.T) {
	clk := newFakeClock()
	sec := store.NewMemory()
	ca, err := LoadOrCreateCA(sec, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	id := mustID(t, "shop", "a")
	chain, err := ca.SignCSR(csrWithURI(t, newKey(t), id), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kid := jwtKIDs(t, ca)

	clk.Advance(10 * time.Minute)
	again, err := LoadOrCreateCA(sec, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(ca.Bundle(), again.Bundle(), (*x509.Certificate).Equal) || len(again.Bundle()) != 1 {
		t.Fatal("restart changed the roots")
	}
	if _, _, err := x509svid.Verify(chain, again, x509svid.WithTime(clk.Now())); err != nil {
		t.Fatalf("a leaf issued before the restart no longer verifies: %v", err)
	}
	if got := jwtKIDs(t, again); got != kid {
		t.Fatalf("JWT keys changed across restart: %s, was %s", got, kid)
	}
	if _, err := LoadOrCreateCA(sec, CAConfig{TrustDomain: "other.local"}, clk.Now); err == nil || !strings.Contains(err.Error(), "trust domain") {
		t.Fatalf("loading the roots under another trust domain: %v, want a refusal", err)
	}
}

func TestRotationTimeline(t *testing.T) {
	clk := newFakeClock()
	sec := store.NewMemory()
	cfg := CAConfig{PublishDelay: 10 * time.Minute, MaxSVIDTTL: 2 * time.Hour}
	ca, err := LoadOrCreateCA(sec, cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	id := mustID(t, "shop", "a")
	key := newKey(t)
	sign := func() []*x509.Certificate {
		t.Helper()
		chain, err := ca.SignCSR(csrWithURI(t, key, id), id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return chain
	}
	oldRoot := ca.Bundle()[0]
	sign()

	if err := ca.Rotate(); err != nil {
		t.Fatal(err)
	}
	rotatedAt := clk.Now()
	bundle := ca.Bundle()
	if len(bundle) != 2 || !bundle[0].Equal(oldRoot) {
		t.Fatalf("after Rotate the bundle has %d roots, want the old one and the new one", len(bundle))
	}
	newRoot := bundle[1]
	roots := ca.Roots()
	if !roots[0].Active || roots[1].Active || !roots[1].SignsFrom.Equal(rotatedAt.Add(cfg.PublishDelay)) {
		t.Fatalf("after Rotate: %+v, want the old root active and the new one waiting", roots)
	}

	// Within the publish delay the old root still signs.
	clk.Advance(9 * time.Minute)
	lastOld := sign()
	if !issuedBy(lastOld[0], oldRoot) {
		t.Fatal("a leaf signed within the publish delay does not chain to the old root")
	}

	// After the delay the new root signs; the old one stays for its leaves.
	clk.Advance(time.Minute)
	fresh := sign()
	if !issuedBy(fresh[0], newRoot) {
		t.Fatal("a leaf signed after the publish delay does not chain to the new root")
	}
	if _, _, err := x509svid.Verify(fresh, ca, x509svid.WithTime(clk.Now())); err != nil {
		t.Fatal(err)
	}
	roots = ca.Roots()
	if len(roots) != 2 || roots[0].Active || !roots[1].Active {
		t.Fatalf("after the delay: %+v, want the new root active", roots)
	}
	retire := roots[0].RetireAfter
	if retire.Before(lastOld[0].NotAfter) || retire.After(lastOld[0].NotAfter.Add(issuanceSlack)) {
		t.Fatalf("RetireAfter %s, want the old root's last leaf expiry %s (+ at most %s)", retire, lastOld[0].NotAfter, issuanceSlack)
	}

	// A restart keeps the whole state.
	ca, err = LoadOrCreateCA(sec, cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r := ca.Roots(); len(r) != 2 || !r[1].Active || !r[0].RetireAfter.Equal(retire) {
		t.Fatalf("after a restart: %+v", r)
	}

	// Until the last old leaf expires the old root stays and still verifies it.
	clk.Advance(lastOld[0].NotAfter.Sub(clk.Now()) - time.Second)
	if len(ca.Bundle()) != 2 {
		t.Fatal("the old root left the bundle before its last leaf expired")
	}
	if _, _, err := x509svid.Verify(lastOld, ca, x509svid.WithTime(clk.Now())); err != nil {
		t.Fatalf("the old root's last leaf no longer verifies: %v", err)
	}
	clk.Advance(retire.Sub(clk.Now()) + time.Second)
	bundle = ca.Bundle()
	if len(bundle) != 1 || !bundle[0].Equal(newRoot) {
		t.Fatalf("after RetireAfter the bundle has %d roots, want the new root only", len(bundle))
	}
	// The drop was stored.
	ca, err = LoadOrCreateCA(sec, cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if b := ca.Bundle(); len(b) != 1 || !b[0].Equal(newRoot) {
		t.Fatal("the dropped root came back after a restart")
	}
}

func TestRotateUnusedRootLeavesAtOnce(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	if err := ca.Rotate(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultPublishDelay + time.Second)
	if n := len(ca.Bundle()); n != 1 {
		t.Fatalf("a root that signed nothing stays in the bundle (%d roots)", n)
	}
}

func TestLeafCappedAtRootExpiry(t *testing.T) {
	clk := newFakeClock()
	cfg := CAConfig{RootTTL: 100 * time.Hour, MaxSVIDTTL: 24 * time.Hour}
	ca, err := LoadOrCreateCA(store.NewMemory(), cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(90 * time.Hour)
	id := mustID(t, "shop", "a")
	chain, err := ca.SignCSR(csrWithURI(t, newKey(t), id), id, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if root := ca.Bundle()[0]; !chain[0].NotAfter.Equal(root.NotAfter) {
		t.Fatalf("leaf NotAfter %s outlives root NotAfter %s", chain[0].NotAfter, root.NotAfter)
	}
	clk.Advance(11 * time.Hour)
	if _, err := ca.SignCSR(csrWithURI(t, newKey(t), id), id, time.Hour); err == nil || !strings.Contains(err.Error(), "rotate") {
		t.Fatalf("signing with an expired root: %v, want a refusal that says to rotate", err)
	}
}

// issuedBy reports whether leaf was signed by root.
func issuedBy(leaf, root *x509.Certificate) bool {
	return bytes.Equal(leaf.RawIssuer, root.RawSubject) && leaf.CheckSignatureFrom(root) == nil
}
