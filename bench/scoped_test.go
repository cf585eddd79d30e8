package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestScopedSaysWhatItMeasured runs --scoped at a tiny size. Where the
// control plane takes the Mesh's configScoping and Services' egress lists,
// scoped proxies must be sent less than half of what unscoped ones are;
// where it does not, the mode must fail naming the field, with no scoped
// figures to print.
func TestScopedSaysWhatItMeasured(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := benchConfig(5, MeshSize{Services: 20, EndpointsPerService: 5}, 20*time.Millisecond)
	cfg.ConnectTimeout = 10 * time.Second
	cfg.Modes = []Mode{SotW}
	scopedMesh := cfg.Mesh
	scopedMesh.Scoping, scopedMesh.Calls = "explicit", ScopedCalls
	_, meshErr := scopedMesh.MeshResource()
	_, svcErr := scopedMesh.Resources()

	unscoped, scoped, err := RunScoped(ctx, cfg)
	if meshErr != nil || svcErr != nil {
		if err == nil || !strings.Contains(err.Error(), "config scoping cannot be measured") {
			t.Fatalf("this control plane has no config scoping (%v, %v), yet the scoped mode returned %v", meshErr, svcErr, err)
		}
		if len(scoped) != 0 {
			t.Errorf("the scoped mode failed and still returned %d scoped phases", len(scoped))
		}
		t.Logf("the mode fails as it should: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	u, s := modeMedian(unscoped, SotW), modeMedian(scoped, SotW)
	if s <= 0 || s >= u/2 {
		t.Errorf("config bytes per proxy: %v scoped, %v unscoped; want scoped under half", s, u)
	}
}
