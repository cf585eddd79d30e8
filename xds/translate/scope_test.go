package translate_test

import (
	"path/filepath"
	"slices"
	"testing"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// TestScopedSetsAreServable: what every proxy of the scoped cases is sent
// passes validation and the reference check, so a scoped set never names
// a route or cluster it is not sent.
func TestScopedSetsAreServable(t *testing.T) {
	for _, name := range []string{"scoped-auto", "scoped-explicit"} {
		s := loadSnapshot(t, filepath.Join("testdata", "in", name+".yaml"))
		for proxy, r := range everyProxy(s) {
			if err := validate.Resources(r, dataplane.SDSSecretNames()); err != nil {
				t.Errorf("%s, %s:\n%v", name, proxy, err)
			}
		}
	}
}

// TestScopeNarrowsProxylessClients: a proxyless client of a workload
// that lists its egress is asked for, and sent, only what it sees.
func TestScopeNarrowsProxylessClients(t *testing.T) {
	s := loadSnapshot(t, filepath.Join("testdata", "in", "scoped-explicit.yaml"))
	r, _ := translate.ForProxy(s, translate.Proxy{ID: "a-front.default", Flavour: translate.Proxyless})
	var listeners, clusters []string
	for _, l := range r.Listeners {
		listeners = append(listeners, l.GetName())
	}
	for _, c := range r.Clusters {
		clusters = append(clusters, c.GetName())
	}
	wantListeners := []string{"greet.default:50051", "grpc/server?xds.resource.listening_address=10.0.0.1:8080", "hammer.tools:8080", "lb.default:50051"}
	if !slices.Equal(listeners, wantListeners) {
		t.Errorf("listeners = %q, want %q", listeners, wantListeners)
	}
	wantClusters := []string{"outbound|50051|version=v1|greet.default", "outbound|50051||greet.default", "outbound|50051||lb.default", "outbound|8080||hammer.tools"}
	if !slices.Equal(clusters, wantClusters) {
		t.Errorf("clusters = %q, want %q", clusters, wantClusters)
	}
}

// TestScopeSharesWhatItKeeps: scoping never copies a kept resource, and
// a proxy that sees everything gets the shared set itself.
func TestScopeSharesWhatItKeeps(t *testing.T) {
	s := loadSnapshot(t, filepath.Join("testdata", "in", "scoped-explicit.yaml"))
	shared, _ := translate.Outbound(s)
	scoped := translate.Scope(s, shared, s.Visible(s.Workload("default", "a-front")))
	if len(scoped.Clusters) == 0 || len(scoped.Clusters) >= len(shared.Clusters) {
		t.Fatalf("scoped %d of %d clusters", len(scoped.Clusters), len(shared.Clusters))
	}
	for _, c := range scoped.Clusters {
		if !slices.Contains(shared.Clusters, c) {
			t.Errorf("cluster %s was copied", c.GetName())
		}
	}
	if got := translate.Scope(s, shared, s.Visible(nil)); got != shared {
		t.Error("a proxy that sees everything did not get the shared set itself")
	}
}
