package cache

import (
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

// A shape's checks across its set are kept for a change they cannot fail
// on (an endpoint moved) and run again for one they can (a cluster, and
// with it a load assignment's name, added; its own set changed).
func TestSetChecksAreKeptByWhatTheyRead(t *testing.T) {
	fake := cachetest.New()
	enc := newEncodings()
	m := mesh.New(1, nil)
	px := translate.Proxy{ID: "w0.default", Flavour: translate.Envoy, Workload: "w0", Namespace: "default"}
	shape := func(ns string) (resourceSet, resourceSet) {
		t.Helper()
		out, err := newResourceSet(fake.Outbound(m), enc)
		if err != nil {
			t.Fatal(err)
		}
		px.Namespace = ns
		own, err := newResourceSet(fake.Inbound(m, px), enc)
		if err != nil {
			t.Fatal(err)
		}
		return overlay(withoutClashes(out, own), own), own
	}
	set, own := shape("default")
	key := setKey(set, own)

	fake.SetPort("db", 6000)
	if set, own := shape("default"); setKey(set, own) != key {
		t.Error("moving an endpoint changed what the checks across the set read")
	}
	fake.SetPort("cache", 6379)
	if set, own := shape("default"); setKey(set, own) == key {
		t.Error("adding a cluster and its load assignment left the checks' key as it was")
	}
	fake.SetPort("cache", 6380)
	withCache, ownDefault := shape("default")
	if set, own := shape("other"); setKey(set, own) == setKey(withCache, ownDefault) {
		t.Error("another inbound set has the same key")
	}

	// A kept result is the result.
	c := newChecks()
	set, own = shape("default")
	want := c.over(set, nil, own)
	c.rotate()
	if ok, err := c.setResult(setKey(set, own)); !ok || err != want {
		t.Fatalf("kept result %v (kept %v), want %v", err, ok, want)
	}
}
