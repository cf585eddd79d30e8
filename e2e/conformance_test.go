package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// TestConformance serves every example mesh and fetches it over real ADS
// streams, as Envoy (state of the world and Delta) and as a proxyless gRPC
// client, then checks every resource with ValidateAll (recursively) and
// that everything referenced is also served.
func TestConformance(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		rs, err := resource.DecodePath(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(rs) == 0 {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) { conformance(t, rs, false) })
		t.Run(filepath.Base(dir)+"/routes-per-service", func(t *testing.T) { conformance(t, withRoutesPerService(rs), true) })
	}
	if n < 2 {
		t.Fatalf("found %d example meshes under examples/, want at least quickstart and one larger mesh", n)
	}
}

// withRoutesPerService is rs with the Mesh's spec.sidecarRoutes set to
// perService, adding a Mesh when rs has none.
func withRoutesPerService(rs []*resource.Resource) []*resource.Resource {
	out := make([]*resource.Resource, 0, len(rs)+1)
	found := false
	for _, r := range rs {
		if spec, ok := r.Spec.(*resource.MeshSpec); ok {
			c, s := *r, *spec
			s.SidecarRoutes = resource.RoutesPerService
			c.Spec, found = &s, true
			r = &c
		}
		out = append(out, r)
	}
	if !found {
		out = append(out, &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindMesh, Metadata: resource.Metadata{Name: "mesh"},
			Spec: &resource.MeshSpec{TrustDomain: dataplane.DefaultTrustDomain, SidecarRoutes: resource.RoutesPerService}})
	}
	return out
}

func conformance(t *testing.T, rs []*resource.Resource, perService bool) {
	dataDir := t.TempDir()
	st, err := store.OpenBolt(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.New(st).Apply(context.Background(), rs, false); err != nil {
		st.Close()
		t.Fatalf("applying the example: %v", err)
	}
	st.Close()
	// Started on a store that already holds the mesh, the first answer of
	// every stream is the whole configuration.
	cp, err := controlplane.Start(context.Background(), controlplane.Config{DataDir: dataDir, XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", InsecureXDS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()

	var workloads []string
	var listeners []string
	for _, r := range rs {
		switch spec := r.Spec.(type) {
		case *resource.WorkloadSpec:
			workloads = append(workloads, r.Metadata.Name+"."+r.Metadata.Namespace)
		case *resource.ServiceSpec:
			for _, p := range spec.Ports {
				if p.Protocol != resource.ProtocolTCP {
					listeners = append(listeners, fmt.Sprintf("%s.%s:%d", r.Metadata.Name, r.Metadata.Namespace, p.Port))
				}
			}
		}
	}
	if len(workloads) == 0 {
		t.Fatal("the example has no Workload to connect as")
	}
	if len(workloads) > 3 {
		workloads = workloads[:3]
	}
	check := func(t *testing.T, f *fetched) {
		t.Helper()
		if len(f.listeners) == 0 || len(f.clusters) == 0 || len(f.endpoints) == 0 {
			t.Fatalf("served %d listeners, %d clusters, %d assignments; want some of each", len(f.listeners), len(f.clusters), len(f.endpoints))
		}
		if err := validate.Resources(f.resources(), dataplane.SDSSecretNames()); err != nil {
			t.Fatalf("served resources fail validation:\n%v", err)
		}
	}
	// A sidecar's outbound routes are one shared RouteConfiguration, or
	// per service come through its scopes: one scope and one
	// RouteConfiguration per HTTP service it sees.
	checkSidecar := func(t *testing.T, f *fetched) {
		t.Helper()
		check(t, f)
		if perService && (len(f.scopes) == 0 || len(f.routes) < len(f.scopes)) {
			t.Fatalf("sidecar served %d scopes and %d route configurations; want a route configuration for each of some scopes", len(f.scopes), len(f.routes))
		}
		if !perService && (len(f.scopes) != 0 || f.routes[translate.OutboundHTTPName] == nil) {
			t.Fatalf("sidecar served %d scopes and %d route configurations; want no scope and the shared %s", len(f.scopes), len(f.routes), translate.OutboundHTTPName)
		}
	}
	for _, id := range workloads {
		t.Run("envoy-sotw/"+id, func(t *testing.T) { checkSidecar(t, fetchSotW(t, cp.XDSAddr(), envoyNode(id, false), nil)) })
		t.Run("envoy-delta/"+id, func(t *testing.T) { checkSidecar(t, fetchDelta(t, cp.XDSAddr(), envoyNode(id, false))) })
	}
	t.Run("proxyless", func(t *testing.T) {
		f := fetchSotW(t, cp.XDSAddr(), envoyNode("client.default", true), listeners)
		for _, name := range listeners {
			if f.listeners[name] == nil || f.listeners[name].GetApiListener() == nil {
				t.Errorf("proxyless client asked for listener %q and got no api_listener", name)
			}
		}
		check(t, f)
	})
}
