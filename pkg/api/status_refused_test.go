package api_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/cache"
)

// retryMesh is Service web with Workload web-1 and a Route retrying with
// the back-off base..max, straight into a snapshot: apply-time validation
// refuses a maximum below the base, and the gate before serving must hold
// on its own.
func retryMesh(rev int64, base, maxD resource.Duration) *mesh.Snapshot {
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
				Retries: &resource.RetryPolicy{Attempts: 2, Backoff: &resource.RetryBackoff{Base: base, Max: maxD}}}},
		}},
	})
}

// TestStatusNamesARefusedSet runs the real translator and the gate behind
// a real xDS server with a sidecar connected over loopback. Revision 3
// gives the Route a retry back-off Envoy refuses: /v1/status names the
// sidecar, the refused RouteConfiguration with the rule it breaks, and the
// Route that changed since revision 2, the last served in full; the
// refused event in /v1/events carries the same.
func TestStatusNamesARefusedSet(t *testing.T) {
	l := startLiveWith(t, time.Minute, cache.DefaultTranslator())
	s := l.stream()
	send(t, s, &discovery.DiscoveryRequest{Node: node("web-1.default"), TypeUrl: resourcev3.ClusterType})
	recv(t, s, resourcev3.ClusterType)

	for _, step := range []struct {
		rev       int64
		base, max resource.Duration
	}{{2, "10ms", "100ms"}, {3, "1s", "100ms"}} {
		l.xds.Update(retryMesh(step.rev, step.base, step.max))
		l.waitPushed(step.rev)
	}

	var st apiwire.StatusResponse
	l.get("/v1/status", &st)
	if st.LastPush == nil || st.LastPush.Revision != 3 || len(st.LastPush.Refused) != 1 {
		t.Fatalf("last push %+v, want revision 3 with one refusal", st.LastPush)
	}
	r := st.LastPush.Refused[0]
	if !slices.Equal(r.Proxies, []string{"web-1.default"}) || r.Since != 2 || !slices.Equal(r.Inputs, []string{"Route/default/web"}) {
		t.Errorf("refusal names proxies %q and inputs %q since %d, want web-1.default and Route/default/web since 2", r.Proxies, r.Inputs, r.Since)
	}
	if len(r.Problems) == 0 || !strings.HasPrefix(r.Problems[0].Resource, "RouteConfiguration ") || !strings.Contains(r.Problems[0].Reason, "route.retry-backoff-order") {
		t.Errorf("refusal does not name the refused resource and why: %+v", r.Problems)
	}

	var evs apiwire.EventsResponse
	l.get("/v1/events", &evs)
	var ev *events.Event
	for i, e := range evs.Events {
		if e.Kind == events.KindRefused && e.Revision == 3 {
			ev = &evs.Events[i]
		}
	}
	if ev == nil || ev.Refusal == nil || !reflect.DeepEqual(*ev.Refusal, r) {
		t.Errorf("the refused event does not carry what /v1/status says:\nevent %+v\nstatus %+v", ev, r)
	}
}
