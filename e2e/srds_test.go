package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/nettest"
)

// webService is a second HTTP service beside echo, so a sidecar holds two
// scopes and two outbound RouteConfigurations, in a mesh that gives each
// service its own.
const webService = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
  endpoints: [{address: 127.0.0.2}]
---
apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: example.org, sidecarRoutes: perService}
`

// TestSotWRouteChangeSendsOneRouteConfiguration speaks state-of-the-world
// ADS to a real embassy-cp, whose Mesh gives each service its own
// outbound routes, as an Envoy sidecar does (CDS, LDS and scopes
// as wildcards, then RDS and EDS by name): a change to one service's Route
// sends the sidecar that service's RouteConfiguration alone, and the
// scopes, complete state in every response, are not resent.
func TestSotWRouteChangeSendsOneRouteConfiguration(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir+"/data", nettest.FreeAddr(t), nettest.FreeAddr(t))
	p1, p2, p3 := portOf(t, nettest.FreeAddr(t)), portOf(t, nettest.FreeAddr(t)), portOf(t, nettest.FreeAddr(t))
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, p1, p2, p3)+"---\n"+webService))
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(routeSplit, 50, 50)))
	cp.waitPushed(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := dialADS(t, cp.xds).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := envoyNode("echo-v1.default", false)
	f := newFetched()
	subscribed := map[string][]string{}
	// acked is each type's last version and nonce: a new subscription
	// carries them, as Envoy's does, or the server takes it for a stale
	// request and ignores it.
	acked := map[string][2]string{}
	send := func(typ string, version, nonce string) {
		acked[typ] = [2]string{version, nonce}
		if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: typ, ResourceNames: subscribed[typ], VersionInfo: version, ResponseNonce: nonce}); err != nil {
			t.Fatalf("send %s: %v", typ, err)
		}
	}
	subscribe := func(typ string, names []string) {
		subscribed[typ] = names
		send(typ, acked[typ][0], acked[typ][1])
	}
	// recv takes in one response as Envoy would, following references.
	recv := func() *discovery.DiscoveryResponse {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("ADS stream ended: %v", err)
		}
		if resp.GetTypeUrl() == resourcev3.ScopedRouteType {
			clear(f.scopes) // the complete set, as Envoy reads it
		}
		for _, a := range resp.GetResources() {
			if _, err := f.add(a); err != nil {
				t.Fatal(err)
			}
		}
		send(resp.GetTypeUrl(), resp.GetVersionInfo(), resp.GetNonce())
		if _, asked := subscribed[resourcev3.ScopedRouteType]; !asked && f.wantsScopes() {
			subscribe(resourcev3.ScopedRouteType, nil)
		}
		if names := f.rdsNames(); len(names) > 0 && !slices.Equal(names, subscribed[resourcev3.RouteType]) {
			subscribe(resourcev3.RouteType, names)
		}
		if names := f.edsNames(); len(names) > 0 && !slices.Equal(names, subscribed[resourcev3.EndpointType]) {
			subscribe(resourcev3.EndpointType, names)
		}
		return resp
	}
	subscribe(resourcev3.ClusterType, nil)
	subscribe(resourcev3.ListenerType, nil)

	want := []string{"outbound_http|echo.default", "outbound_http|web.default"}
	for len(f.routes) < len(want) {
		recv()
	}
	if got := slices.Sorted(maps.Keys(f.scopes)); !slices.Equal(got, want) {
		t.Fatalf("sidecar holds scopes %q, want %q", got, want)
	}

	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route2.yaml", fmt.Sprintf(routeSplit, 0, 100)))
	for {
		resp := recv()
		switch resp.GetTypeUrl() {
		case resourcev3.ScopedRouteType:
			if len(resp.GetResources()) != len(want) {
				t.Errorf("a scope response carried %d scopes; Envoy reads it as the complete set of %d", len(resp.GetResources()), len(want))
			}
			continue
		case resourcev3.RouteType:
		default:
			continue
		}
		var names []string
		for _, a := range resp.GetResources() {
			n, _ := f.add(a)
			names = append(names, n)
		}
		if !slices.Equal(names, []string{"outbound_http|echo.default"}) {
			t.Fatalf("the route change sent route configurations %q; want echo's alone", names)
		}
		return
	}
}
