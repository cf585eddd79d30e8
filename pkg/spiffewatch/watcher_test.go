package spiffewatch_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/internal/workloadapitest"
	"embassy.dev/embassy/pkg/spiffewatch"
)

// The watcher follows a real Workload API: the first SVID with its
// bundle, the JWT bundles, each rotation, and the API going away; Close
// ends the watches.
func TestWatcherFollowsRotations(t *testing.T) {
	const td = "example.org"
	a, err := workloadapitest.NewAuthority(td)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "wl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	id := spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/web")
	srv, err := a.Serve(filepath.Join(dir, "api.sock"), id, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	w, err := spiffewatch.Start(srv.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := waitState(t, w, "the first SVID and JWT bundles", func(st spiffewatch.State) bool {
		return st.X509 != nil && len(st.X509.SVIDs) == 1 && st.JWTBundles != nil
	})
	if got := first.X509.SVIDs[0]; got.ID != id || !got.Certificates[0].Equal(srv.Current().Certificates[0]) {
		t.Fatalf("first SVID %s, want the served one for %s", got.ID, id)
	}
	if b, err := first.X509.Bundles.GetX509BundleForTrustDomain(id.TrustDomain()); err != nil || !b.HasX509Authority(a.Roots()[0]) {
		t.Fatalf("the bundle lacks the authority's root: %v", err)
	}
	if _, ok := first.JWTBundles.Get(id.TrustDomain()); !ok {
		t.Fatal("no JWT bundle for the trust domain")
	}

	rotated, err := srv.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, w, "the rotated SVID", func(st spiffewatch.State) bool {
		return st.X509 != nil && len(st.X509.SVIDs) == 1 && st.X509.SVIDs[0].Certificates[0].Equal(rotated.Certificates[0])
	})

	// A Workload API that goes away is a failure the state counts, with
	// the last good SVID kept.
	srv.Close()
	gone := waitState(t, w, "a failure after the Workload API went away", func(st spiffewatch.State) bool {
		return st.X509Failures > 0 && st.X509Err != nil
	})
	if !gone.X509.SVIDs[0].Certificates[0].Equal(rotated.Certificates[0]) {
		t.Fatal("the last good SVID was not kept")
	}

	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s")
	}
}

// waitState waits up to 10s for a state that ok accepts and returns it.
func waitState(t *testing.T, w *spiffewatch.Watcher, what string, ok func(spiffewatch.State) bool) spiffewatch.State {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		st, changed := w.Watch()
		if ok(st) {
			return st
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within 10s: %+v", what, st)
		}
	}
}
