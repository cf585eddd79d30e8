package translate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"embassy.dev/embassy/pkg/resource"
)

// meshGen draws random Embassy resources from the schema in pkg/resource,
// leaning on edge values (the smallest and largest ports, weights of 0,
// percentages of 0 and 100, the shortest durations, "%" in header values,
// long regexes) since those are where Envoy's load-time rules bite. It
// draws freely; the property test keeps only what pkg/resource accepts.
type meshGen struct {
	r *rand.Rand
	// services are the names drawn so far, with their ports.
	services map[string][]resource.ServicePort
}

func pick[T any](g *meshGen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

func (g *meshGen) chance(p float64) bool { return g.r.Float64() < p }

func doc(kind resource.Kind, name string, spec any) *resource.Resource {
	r := &resource.Resource{APIVersion: resource.APIVersion, Kind: kind, Metadata: resource.Metadata{Name: name}, Spec: spec}
	resource.SetDefaults(r)
	return r
}

// mesh draws a whole mesh: a Mesh, services with workloads, and Routes,
// TrafficPolicies and AuthorizationPolicies on some of them.
func (g *meshGen) mesh() []*resource.Resource {
	g.services = map[string][]resource.ServicePort{}
	out := []*resource.Resource{doc(resource.KindMesh, "default", &resource.MeshSpec{
		TrustDomain: "example.org", MTLS: &resource.MTLS{Mode: pick(g, resource.MTLSStrict, resource.MTLSPermissive, resource.MTLSDisabled)},
	})}
	for i := range 1 + g.r.IntN(4) {
		name := fmt.Sprintf("svc-%d", i)
		ports := g.ports()
		g.services[name] = ports
		out = append(out, doc(resource.KindService, name, &resource.ServiceSpec{Ports: ports}))
		for j := range 1 + g.r.IntN(3) {
			out = append(out, g.workload(name, j))
		}
	}
	// Sorted, so one seed always draws the same meshes.
	for _, name := range slices.Sorted(maps.Keys(g.services)) {
		if g.chance(0.7) {
			out = append(out, doc(resource.KindRoute, name, g.route(name)))
		}
		if g.chance(0.6) {
			out = append(out, doc(resource.KindTrafficPolicy, name, g.trafficPolicy(name)))
		}
		if g.chance(0.4) {
			out = append(out, doc(resource.KindAuthorizationPolicy, name, g.authorization(name)))
		}
	}
	return out
}

func (g *meshGen) ports() []resource.ServicePort {
	var out []resource.ServicePort
	used := map[uint32]bool{}
	for i := range 1 + g.r.IntN(3) {
		p := pick[uint32](g, 1, 80, 443, 5432, 6379, 8080, 9090, 15001, 65535)
		if used[p] {
			continue
		}
		used[p] = true
		out = append(out, resource.ServicePort{Name: fmt.Sprintf("p%d", i), Port: p,
			Protocol: pick(g, resource.ProtocolHTTP, resource.ProtocolHTTP2, resource.ProtocolGRPC, resource.ProtocolTCP)})
	}
	return out
}

func (g *meshGen) workload(svc string, j int) *resource.Resource {
	return doc(resource.KindWorkload, fmt.Sprintf("%s-%d", svc, j), &resource.WorkloadSpec{
		Address:        pick(g, fmt.Sprintf("10.0.%d.%d", len(g.services), j+1), "127.0.0.1", "::1"),
		Services:       []string{svc},
		Labels:         map[string]string{"version": pick(g, "v1", "v2")},
		Locality:       pick(g, nil, &resource.Locality{Region: "r1", Zone: pick(g, "z1", "z2")}),
		ServiceAccount: pick(g, "", svc),
		Weight:         pick[uint32](g, 0, 1, 100),
	})
}

func (g *meshGen) duration() resource.Duration {
	return pick[resource.Duration](g, "1ms", "20ms", "49ms", "50ms", "1s", "30s", "1h")
}

func (g *meshGen) headerValue() string {
	return pick(g, "v", "50%", "100%%", "%DOWNSTREAM_REMOTE_ADDRESS%", "a b", "")
}

func (g *meshGen) route(svc string) *resource.RouteSpec {
	s := &resource.RouteSpec{Service: svc}
	for range 1 + g.r.IntN(3) {
		s.Rules = append(s.Rules, g.rule(svc))
	}
	return s
}

func (g *meshGen) rule(svc string) resource.RouteRule {
	r := resource.RouteRule{}
	if g.chance(0.7) {
		r.Matches = []resource.RouteMatch{g.match()}
	}
	switch g.r.IntN(8) {
	case 0:
		r.DirectResponse = &resource.DirectResponse{Status: pick[uint32](g, 200, 404, 503), Body: g.headerValue()}
		return r
	case 1:
		r.Redirect = &resource.Redirect{Path: "/moved", ResponseCode: pick[uint32](g, 301, 302)}
		return r
	}
	w0, w1 := pick[int32](g, 0, 1, 50, 100), pick[int32](g, 0, 1, 50, 100)
	r.Backends = pick(g,
		[]resource.Backend{{Service: svc}},
		[]resource.Backend{{Subset: map[string]string{"version": "v1"}, Weight: &w0}, {Subset: map[string]string{"version": "v2"}, Weight: &w1}})
	if g.chance(0.4) {
		r.Timeout = g.duration()
	}
	if g.chance(0.3) {
		r.Retries = &resource.RetryPolicy{Attempts: pick[uint32](g, 1, 3, 10), RetryOn: []string{pick(g, "5xx", "reset", "unavailable")}}
		if g.chance(0.5) {
			r.Retries.Backoff = &resource.RetryBackoff{Base: g.duration(), Max: pick(g, "", g.duration())}
		}
	}
	if g.chance(0.3) {
		r.Fault = &resource.Fault{Abort: &resource.FaultAbort{HTTPStatus: 503, Percent: pick(g, 0, 0.001, 50.5, 100)}}
	}
	if g.chance(0.3) {
		r.RequestHeaders = &resource.HeaderEdits{Set: map[string]string{"x-edit": g.headerValue()}}
		r.ResponseHeaders = &resource.HeaderEdits{Add: map[string]string{"x-out": g.headerValue()}, Remove: []string{"x-gone"}}
	}
	if g.chance(0.2) {
		r.Rewrite = pick(g, &resource.Rewrite{Prefix: "/v2/"}, &resource.Rewrite{Regex: &resource.RegexRewrite{Pattern: "^/old/(.*)$", Substitution: `/new/\1`}})
	}
	if g.chance(0.3) {
		r.RateLimit = g.rateLimit()
	}
	return r
}

func (g *meshGen) match() resource.RouteMatch {
	m := resource.RouteMatch{}
	switch g.r.IntN(4) {
	case 0:
		m.Path = &resource.PathMatch{Prefix: pick(g, "/", "/api/")}
	case 1:
		m.Path = &resource.PathMatch{Exact: "/healthz"}
	case 2:
		m.Path = &resource.PathMatch{Regex: pick(g, "/items/[0-9]+", "/[0-9a-f]{64}")}
	}
	if g.chance(0.4) {
		m.Headers = []resource.HeaderMatch{pick(g,
			resource.HeaderMatch{Name: "x-user", Exact: "alice"},
			resource.HeaderMatch{Name: "x-user", Regex: "a.*e"},
			resource.HeaderMatch{Name: "x-debug", Present: true, Invert: g.chance(0.5)})}
	}
	if g.chance(0.3) {
		m.Method = pick(g, "GET", "POST")
	}
	return m
}

func (g *meshGen) rateLimit() *resource.RateLimit {
	return &resource.RateLimit{MaxTokens: pick[uint32](g, 1, 100), FillInterval: g.duration(),
		ResponseHeaders: pick(g, nil, map[string]string{"x-rl": g.headerValue()})}
}

func (g *meshGen) trafficPolicy(svc string) *resource.TrafficPolicySpec {
	s := &resource.TrafficPolicySpec{Service: svc}
	if g.chance(0.5) {
		s.LoadBalancer = pick(g,
			&resource.LoadBalancer{Policy: resource.LBRoundRobin},
			&resource.LoadBalancer{Policy: resource.LBLeastRequest},
			&resource.LoadBalancer{Policy: resource.LBRingHash, HashHeader: "x-user", RingHash: &resource.RingHash{MinRingSize: 1024}},
			&resource.LoadBalancer{Policy: resource.LBMaglev, HashSourceIP: true})
	}
	if g.chance(0.4) {
		s.ConnectionPool = &resource.ConnectionPool{MaxConnections: pick[uint32](g, 1, 1024), HTTP2: g.chance(0.5)}
	}
	if g.chance(0.4) {
		s.OutlierDetection = &resource.OutlierDetection{Consecutive5xx: pick[uint32](g, 0, 1, 5), ConsecutiveGatewayErrors: pick[uint32](g, 0, 3),
			Interval: "10s", MaxEjectionPercent: pick[uint32](g, 0, 100)}
	}
	if g.chance(0.4) {
		hc := &resource.HealthCheck{Interval: "5s", Timeout: "1s"}
		switch g.r.IntN(3) {
		case 0:
			hc.HTTP = &resource.HTTPHealthCheck{Path: "/healthz"}
		case 1:
			hc.GRPC = &resource.GRPCHealthCheck{}
		default:
			hc.TCP = &resource.TCPHealthCheck{}
		}
		s.HealthCheck = hc
	}
	if g.chance(0.3) {
		s.RateLimit = g.rateLimit()
	}
	return s
}

func (g *meshGen) authorization(svc string) *resource.AuthorizationPolicySpec {
	s := &resource.AuthorizationPolicySpec{
		Targets: resource.Targets{Services: []string{svc}},
		Modules: []resource.RegoModule{{Name: "p.rego", Rego: pick(g,
			"package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == \"GET\"\n",
			"package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.source.principal == \"spiffe://example.org/ns/default/sa/web\"\n")}},
		Mode:        pick(g, "", "enforce", "dry-run"),
		FailureMode: pick(g, "", "deny", "allow"),
	}
	if g.chance(0.3) {
		jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "k1",
			"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}})
		s.JWTProviders = []resource.JWTProvider{{Name: "users", Issuer: "https://id.example.com", JWKS: jwks}}
	}
	return s
}
