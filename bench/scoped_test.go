package bench

import (
	"context"
	"testing"
	"time"
)

// TestScopedSaysWhatItMeasured runs --scoped at a tiny size: proxies of
// a Mesh with configScoping whose Services list their egress must be sent
// less than half of what unscoped ones are.
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

	if meshErr != nil || svcErr != nil {
		t.Fatalf("the scoped mesh does not decode: %v, %v", meshErr, svcErr)
	}
	unscoped, scoped, err := RunScoped(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, s := modeMedian(unscoped, SotW), modeMedian(scoped, SotW)
	if s <= 0 || s >= u/2 {
		t.Errorf("config bytes per proxy: %v scoped, %v unscoped; want scoped under half", s, u)
	}
}
