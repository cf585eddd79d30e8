package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// retryMesh is a service whose Route retries with the given back-off,
// straight into a snapshot as the store would hand it over (apply-time
// validation, which refuses a maximum below the base, is not in the way:
// the gate must hold on its own).
func retryMesh(rev int64, attempts uint32, base, maxD resource.Duration) *mesh.Snapshot {
	return mesh.New(rev, []*resource.Resource{
		{Kind: resource.KindService, Metadata: resource.Metadata{Name: "web", Namespace: "default"}, Spec: &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "http", Port: 8080, Protocol: resource.ProtocolHTTP}},
		}},
		{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: "web-1", Namespace: "default"}, Spec: &resource.WorkloadSpec{
			Address: "10.0.0.1", Services: []string{"web"},
		}},
		{Kind: resource.KindRoute, Metadata: resource.Metadata{Name: "web", Namespace: "default"}, Spec: &resource.RouteSpec{
			Service: "web",
			Rules: []resource.RouteRule{{Backends: []resource.Backend{{Service: "web"}},
				Retries: &resource.RetryPolicy{Attempts: attempts, Backoff: &resource.RetryBackoff{Base: base, Max: maxD}}}},
		}},
	})
}

// retryAttempts is the retry count of the first route with a retry
// policy in an RDS response, 0 if none.
func retryAttempts(t *testing.T, resp *discovery.DiscoveryResponse) uint32 {
	t.Helper()
	for _, a := range resp.GetResources() {
		rc := &route.RouteConfiguration{}
		if err := anypb.UnmarshalTo(a, rc, proto.UnmarshalOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if n := r.GetRoute().GetRetryPolicy().GetNumRetries().GetValue(); n > 0 {
					return n
				}
			}
		}
	}
	return 0
}

// TestEnvoyIsNeverSentWhatItWouldRefuse drives the real translator and
// cache through a real ADS stream over loopback: a sidecar gets revision
// 1; revision 2 carries a retry back-off Envoy refuses, which the push
// reports as a refused event, naming the refused RouteConfiguration and
// the Route that changed since revision 1, and does not send; revision 3,
// valid again, is the next route configuration the sidecar receives.
func TestEnvoyIsNeverSentWhatItWouldRefuse(t *testing.T) {
	bus := events.New(100)
	h := startWith(t, Config{Events: bus, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	push := func(m *mesh.Snapshot) {
		h.srv.Update(m)
		poll.Until(t, "push", func() bool { return h.srv.Stats().Revision == m.Revision })
	}
	push(retryMesh(1, 1, "10ms", "100ms"))

	stream := h.sotw(t)
	if err := stream.Send(&discovery.DiscoveryRequest{Node: cachetest.EnvoyNode("web-1.default"), TypeUrl: resourcev3.RouteType}); err != nil {
		t.Fatal(err)
	}
	recvRoutes := func() *discovery.DiscoveryResponse {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.RouteType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if n := retryAttempts(t, recvRoutes()); n != 1 {
		t.Fatalf("revision 1: %d retries, want 1", n)
	}

	push(retryMesh(2, 2, "1s", "100ms"))
	var refused *events.Event
	poll.Until(t, "a refused event", func() bool {
		for _, e := range bus.Recent(100) {
			if e.Kind == events.KindRefused && e.Revision == 2 {
				refused = &e
				return true
			}
		}
		return false
	})
	if !strings.Contains(refused.Message, "web-1.default") || !strings.Contains(refused.Message, "route.retry-backoff-order") {
		t.Errorf("refused event does not name the proxy and the rule: %s", refused.Message)
	}
	r := refused.Refusal
	if r == nil || len(r.Problems) == 0 || !strings.HasPrefix(r.Problems[0].Resource, "RouteConfiguration ") ||
		!strings.Contains(r.Problems[0].Reason, "route.retry-backoff-order") {
		t.Errorf("refused event does not name the refused resource and why: %+v", r)
	} else if !slices.Equal(r.Inputs, []string{"Route/default/web"}) || r.Since != 1 || !slices.Equal(r.Proxies, []string{"web-1.default"}) {
		t.Errorf("refused event names proxies %q and inputs %q since %d, want web-1.default and Route/default/web since 1", r.Proxies, r.Inputs, r.Since)
	}

	push(retryMesh(3, 3, "10ms", "100ms"))
	if n := retryAttempts(t, recvRoutes()); n != 3 {
		t.Fatalf("after the refused revision 2 the sidecar got %d retries, want revision 3's 3", n)
	}
}
