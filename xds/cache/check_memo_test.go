package cache

import (
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"

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

// A kept result is never reused for a change it depends on: a sidecar's
// own route naming a shared cluster is served while the cluster is, and
// refused once the cluster (and its load assignment) leaves the shared
// set, though the sidecar's own set did not change.
func TestSetChecksRefuseARouteToARemovedCluster(t *testing.T) {
	enc := newEncodings()
	set := func(r *translate.Resources) resourceSet {
		t.Helper()
		s, err := newResourceSet(r, enc)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	own := set(&translate.Resources{Routes: []*route.RouteConfiguration{routeTo("own-routes", "db")}})
	withDB := set(&translate.Resources{
		Clusters:  []*cluster.Cluster{edsCluster("db"), edsCluster("cache")},
		Endpoints: []*endpoint.ClusterLoadAssignment{cachetest.LoadAssignment("db", 5432), cachetest.LoadAssignment("cache", 6379)},
	})
	withoutDB := set(&translate.Resources{
		Clusters:  []*cluster.Cluster{edsCluster("cache")},
		Endpoints: []*endpoint.ClusterLoadAssignment{cachetest.LoadAssignment("cache", 6379)},
	})
	c := newChecks()
	for _, base := range []resourceSet{withDB, withoutDB} {
		if err := c.servable(base); err != nil {
			t.Fatalf("the shared set alone: %v", err)
		}
	}
	if err := c.over(overlay(withDB, own), nil, own); err != nil {
		t.Fatalf("a route to a served cluster refused: %v", err)
	}
	c.rotate()
	err := c.over(overlay(withoutDB, own), nil, own)
	if err == nil || !strings.Contains(err.Error(), `Cluster "db"`) {
		t.Fatalf("a route to a removed cluster: got %v, want the reference check's refusal naming cluster db", err)
	}
}

// routeTo is a route configuration sending everything to cluster.
func routeTo(name, cluster string) *route.RouteConfiguration {
	return &route.RouteConfiguration{Name: name, VirtualHosts: []*route.VirtualHost{{
		Name: name, Domains: []string{"*"},
		Routes: []*route.Route{{
			Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			Action: &route.Route_Route{Route: &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: cluster}}},
		}},
	}}}
}

// edsCluster is a cluster whose endpoints come over ADS.
func edsCluster(name string) *cluster.Cluster {
	return &cluster.Cluster{
		Name: name, ConnectTimeout: durationpb.New(time.Second),
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig: &cluster.Cluster_EdsClusterConfig{EdsConfig: &core.ConfigSource{
			ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}},
	}
}
