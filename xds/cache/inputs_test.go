package cache

import (
	"fmt"
	"slices"
	"testing"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// TestChangedInputsNameWhatChanged checks that a refusal's inputs are the
// mesh resources changed, added or deleted since the last revision served
// in full, all of them when none was, and at most events.MaxInputs.
func TestChangedInputsNameWhatChanged(t *testing.T) {
	svc := func(name string, port uint32) *resource.Resource {
		return &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: name, Namespace: "shop"},
			Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: port, Protocol: resource.ProtocolHTTP}}}}
	}
	route := func(timeout resource.Duration) *resource.Resource {
		return &resource.Resource{Kind: resource.KindRoute, Metadata: resource.Metadata{Name: "web", Namespace: "shop"},
			Spec: &resource.RouteSpec{Service: "web", Rules: []resource.RouteRule{{Backends: []resource.Backend{{Service: "web"}}, Timeout: timeout}}}}
	}
	before := mesh.New(1, []*resource.Resource{svc("web", 80), svc("db", 5432), route("1s")})

	cases := map[string]struct {
		prev, cur *mesh.Snapshot
		want      []string
	}{
		"a changed route": {before, mesh.New(2, []*resource.Resource{svc("web", 80), svc("db", 5432), route("2s")}), []string{"Route/shop/web"}},
		"an added and a deleted service": {before, mesh.New(2, []*resource.Resource{svc("web", 80), svc("cache", 6379), route("1s")}),
			[]string{"Service/shop/cache", "Service/shop/db"}},
		"nothing changed":        {before, mesh.New(2, []*resource.Resource{svc("web", 80), svc("db", 5432), route("1s")}), nil},
		"no revision served yet": {nil, before, []string{"Mesh", "Route/shop/web", "Service/shop/db", "Service/shop/web"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, more := changedInputs(c.prev, c.cur)
			if !slices.Equal(got, c.want) || more != 0 {
				t.Errorf("inputs %q (+%d), want %q", got, more, c.want)
			}
		})
	}

	var many []*resource.Resource
	for i := range events.MaxInputs + 5 {
		many = append(many, svc(fmt.Sprintf("s%02d", i), 80))
	}
	got, more := changedInputs(before, mesh.New(2, many))
	if len(got) != events.MaxInputs || more != 8 {
		t.Errorf("%d inputs listed and %d more, want %d and 8 (25 added, 3 deleted)", len(got), more, events.MaxInputs)
	}
}
