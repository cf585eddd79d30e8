package apply

import (
	"context"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

const overlayRoute = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: shop}
spec:
  service: echo
  rules:
    - backends: [{weight: 100}]
`

const overlayService = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
`

// TestOverlayResolvesReferencesWithoutStoringThem: a Route may name a
// Service that only the overlay (a Kubernetes cluster) has; the Service
// is not stored, and without the overlay the Route is refused.
func TestOverlayResolvesReferencesWithoutStoringThem(t *testing.T) {
	ctx := context.Background()
	route := decode(t, "route.yaml", overlayRoute)
	if _, err := New(store.NewMemory()).Apply(ctx, route, false); err == nil || !strings.Contains(err.Error(), "service echo.shop does not exist") {
		t.Fatalf("without an overlay: %v", err)
	}
	discovered := decode(t, "discovered.yaml", overlayService)
	st := store.NewMemory()
	a := New(st, WithOverlay(func(stored []*resource.Resource) []*resource.Resource {
		return append(stored[:len(stored):len(stored)], discovered...)
	}))
	if _, err := a.Apply(ctx, route, false); err != nil {
		t.Fatalf("with the Service in the overlay: %v", err)
	}
	if n := storedCount(t, st); n != 1 {
		t.Fatalf("the store holds %d resources, want the Route alone", n)
	}
	// A delete is checked through the overlay too.
	if _, err := a.Delete(ctx, []resource.Key{route[0].Key()}, false); err != nil {
		t.Fatalf("deleting the Route: %v", err)
	}
}
