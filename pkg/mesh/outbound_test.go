package mesh

import (
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// outboundSnapshot has a service "api" with http ports 8080 and 9090 and a
// tcp port, and a service "web" with only a tcp port, both in "shop".
func outboundSnapshot() *Snapshot {
	return New(1, []*resource.Resource{
		res(resource.KindService, "shop", "api", &resource.ServiceSpec{Ports: []resource.ServicePort{
			{Name: "db", Port: 5432, Protocol: resource.ProtocolTCP},
			{Name: "http", Port: 8080, Protocol: resource.ProtocolHTTP},
			{Name: "grpc", Port: 9090, Protocol: resource.ProtocolGRPC},
		}}),
		res(resource.KindService, "shop", "web", &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "raw", Port: 80, Protocol: resource.ProtocolTCP}}}),
		res(resource.KindRoute, "shop", "r", &resource.RouteSpec{Service: "web"}),
	})
}

func TestBackendClusterPicksTheServiceAndPortTheTranslatorServes(t *testing.T) {
	snap := outboundSnapshot()
	web := snap.Service(ServiceRef{"shop", "web"})
	r := snap.Routes[0]
	from := resource.ServicePort{Name: "http", Port: 9090, Protocol: resource.ProtocolHTTP}
	cases := []struct {
		backend resource.Backend
		want    string
	}{
		{resource.Backend{}, "outbound|9090||web.shop"},
		{resource.Backend{Service: "api"}, "outbound|9090||api.shop"},
		{resource.Backend{Service: "api", Subset: map[string]string{"v": "2", "a": "b"}}, "outbound|9090|a=b,v=2|api.shop"},
	}
	for _, c := range cases {
		got, err := snap.BackendCluster(r, c.backend, web, from)
		if err != nil || got.Name() != c.want {
			t.Errorf("%+v: got %q, %v; want %q", c.backend, got.Name(), err, c.want)
		}
	}
	if got, _ := snap.BackendCluster(r, resource.Backend{Service: "api"}, web, resource.ServicePort{Port: 80}); got.Port.Port != 8080 {
		t.Errorf("a port api lacks goes to its first http-family port, 8080; got %d", got.Port.Port)
	}
	for backend, want := range map[string]string{
		"nope": "backend service nope.shop does not exist",
		"web":  "backend service web.shop has no http, http2 or grpc port",
	} {
		_, err := snap.BackendCluster(r, resource.Backend{Service: backend}, snap.Service(ServiceRef{"shop", "api"}), from)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("backend %s: error %v, want %q", backend, err, want)
		}
	}
}

func TestClusterEndpointsServeItsPort(t *testing.T) {
	svc := &Service{Ref: ServiceRef{"shop", "api"}, Endpoints: []Endpoint{
		{Address: "10.0.0.1", Ports: map[string]uint32{"http": 8080}, Labels: map[string]string{"v": "1"}},
		{Address: "10.0.0.2", Ports: map[string]uint32{"grpc": 9090}, Labels: map[string]string{"v": "1"}},
		{Address: "10.0.0.3", Ports: map[string]uint32{"http": 8080}, Labels: map[string]string{"v": "2"}},
	}}
	c := Cluster{Service: svc, Port: resource.ServicePort{Name: "http", Port: 8080}, Subset: map[string]string{"v": "1"}}
	if got := c.Endpoints(); len(got) != 1 || got[0].Address != "10.0.0.1" {
		t.Errorf("subset v=1 of port http: %v, want only 10.0.0.1 (10.0.0.2 lacks the port)", got)
	}
}

func TestRuleDefaults(t *testing.T) {
	w := int32(-3)
	if got := BackendWeight(resource.Backend{}); got != 1 {
		t.Errorf("unset weight: %d, want 1", got)
	}
	if got := BackendWeight(resource.Backend{Weight: &w}); got != 0 {
		t.Errorf("negative weight: %d, want 0", got)
	}
	if got := RuleBackends(resource.RouteRule{}); len(got) != 1 || got[0].Service != "" {
		t.Errorf("a rule without backends: %v, want one to the route's own service", got)
	}
	if got := RuleMatches(resource.RouteRule{}); len(got) != 1 {
		t.Errorf("a rule without matches: %v, want one empty match", got)
	}
	r := &Route{Namespace: "shop", Name: "r"}
	two := resource.RouteRule{Name: "canary", Matches: []resource.RouteMatch{{}, {}}}
	if got := RouteName(r, 3, two, 1); got != "shop/r/canary/1" {
		t.Errorf("RouteName: %q", got)
	}
	if got := RouteName(r, 3, resource.RouteRule{}, 0); got != "shop/r/3" {
		t.Errorf("RouteName: %q", got)
	}
}
