package whatif

import (
	"context"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

const routeMesh = `
apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: t.example, mtls: {mode: PERMISSIVE}}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  ports:
    - {name: http, port: 8080, protocol: http}
    - {name: admin, port: 9090, protocol: http}
    - {name: db, port: 5432, protocol: tcp}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: plain, namespace: shop}
spec:
  ports: [{name: http, port: 80, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: api-v1, namespace: shop}
spec: {address: 10.0.0.1, services: [api, plain], labels: {version: v1}, serviceAccount: api}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: api-v2, namespace: shop}
spec: {address: 10.0.0.2, services: [api], labels: {version: v2}, serviceAccount: api}
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: a-first, namespace: shop}
spec:
  service: api
  port: 8080
  rules:
    - name: exact
      matches: [{path: {exact: /exact}}]
      backends: [{subset: {version: v1}}]
    - name: canary
      matches: [{headers: [{name: x-canary, exact: "true"}]}, {path: {regex: "/re/[0-9]+"}}]
      backends:
        - {subset: {version: v1}, weight: 80}
        - {subset: {version: v2}, weight: 20}
    - name: grpc-get
      matches: [{grpc: {service: pkg.Svc, method: Get}}]
      backends: [{subset: {version: v2}}]
    - name: posts
      matches: [{method: POST, path: {prefix: /api}}]
      backends: [{subset: {version: v2}}]
    - name: no-beta
      matches: [{path: {prefix: /beta}, headers: [{name: x-beta, absent: true}]}]
      directResponse: {status: 403, body: "denied"}
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: b-second, namespace: shop}
spec:
  service: api
  port: 8080
  rules:
    - name: rest
      backends: [{}]
`

func routeSnapshot(t *testing.T) *mesh.Snapshot {
	t.Helper()
	rs, err := resource.Decode("mesh.yaml", []byte(routeMesh))
	if err != nil {
		t.Fatal(err)
	}
	return mesh.New(7, rs)
}

func TestCheckChoosesTheFirstMatchingRule(t *testing.T) {
	snap := routeSnapshot(t)
	cases := []struct {
		name     string
		q        Query
		route    string
		clusters []string
		weights  []int32
	}{
		{"exact path", Query{To: "api.shop", Path: "/exact"}, "shop/a-first/exact", []string{"outbound|8080|version=v1|api.shop"}, []int32{1}},
		{"exact ignores the query", Query{To: "api.shop:8080", Path: "/exact?a=b"}, "shop/a-first/exact", []string{"outbound|8080|version=v1|api.shop"}, []int32{1}},
		{"header, weighted", Query{To: "api.shop", Path: "/exact/not", Headers: map[string]string{"X-Canary": "true"}}, "shop/a-first/canary/0",
			[]string{"outbound|8080|version=v1|api.shop", "outbound|8080|version=v2|api.shop"}, []int32{80, 20}},
		{"regex is a full match", Query{To: "api.shop", Path: "/re/12"}, "shop/a-first/canary/1", nil, []int32{80, 20}},
		{"regex does not match a longer path", Query{To: "api.shop", Path: "/re/12x"}, "shop/b-second/rest", []string{"outbound|8080||api.shop"}, []int32{1}},
		{"gRPC method", Query{To: "api.shop", Method: "POST", Path: "/pkg.Svc/Get"}, "shop/a-first/grpc-get", []string{"outbound|8080|version=v2|api.shop"}, nil},
		{"other gRPC method falls through", Query{To: "api.shop", Method: "POST", Path: "/pkg.Svc/List"}, "shop/b-second/rest", nil, nil},
		{"method match", Query{To: "api.shop", Method: "POST", Path: "/api/x"}, "shop/a-first/posts", nil, nil},
		{"method mismatch", Query{To: "api.shop", Method: "GET", Path: "/api/x"}, "shop/b-second/rest", nil, nil},
		{"absent header", Query{To: "api.shop", Path: "/beta/x"}, "shop/a-first/no-beta", nil, nil},
		{"present header skips absent", Query{To: "api.shop", Path: "/beta/x", Headers: map[string]string{"x-beta": "1"}}, "shop/b-second/rest", nil, nil},
		{"port without routes gets the catch-all", Query{To: "api.shop:9090", Path: "/exact"}, "default", []string{"outbound|9090||api.shop"}, nil},
		{"service without routes", Query{From: "spiffe://t.example/ns/shop/sa/web", To: "plain", Path: "/x"}, "default", []string{"outbound|80||plain.shop"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Check(context.Background(), snap, c.q, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Route == nil {
				t.Fatalf("no route chosen: %+v", a)
			}
			if a.Route.Name != c.route {
				t.Fatalf("route %q, want %q", a.Route.Name, c.route)
			}
			for i, want := range c.clusters {
				if i >= len(a.Route.Backends) || a.Route.Backends[i].Cluster != want {
					t.Fatalf("backends %+v, want cluster %d = %s", a.Route.Backends, i, want)
				}
			}
			for i, want := range c.weights {
				if i >= len(a.Route.Backends) || a.Route.Backends[i].Weight != want {
					t.Fatalf("backends %+v, want weight %d = %d", a.Route.Backends, i, want)
				}
			}
			if !a.Allowed {
				t.Fatalf("denied: %v", a.Reasons)
			}
		})
	}
}

func TestCheckReportsMTLSAndResolution(t *testing.T) {
	snap := routeSnapshot(t)
	a, err := Check(context.Background(), snap, Query{To: "api.shop:5432"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Route != nil || a.Destination.Protocol != "tcp" || a.MTLS.Mode != "PERMISSIVE" || a.MTLS.Required || !a.MTLS.Used {
		t.Fatalf("tcp answer %+v", a)
	}
	if got := strings.Join(a.Destination.Workloads, ","); got != "api-v1,api-v2" {
		t.Fatalf("workloads %s", got)
	}
	for _, to := range []string{"nope.shop", "api.shop:1", "api.shop:x", ""} {
		if _, err := Check(context.Background(), snap, Query{To: to}, Options{}); err == nil {
			t.Errorf("%q resolved", to)
		}
	}
}

func TestCheckDeniesWhenNoRuleMatchesOrPlaintextUnderStrict(t *testing.T) {
	rs, err := resource.Decode("m.yaml", []byte(`
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: api, namespace: default}
spec: {ports: [{name: http, port: 80, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: only, namespace: default}
spec:
  service: api
  rules: [{matches: [{path: {prefix: /only}}], backends: [{}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Check(context.Background(), mesh.New(1, rs), Query{To: "api", Path: "/else"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Allowed || a.Route != nil || len(a.Reasons) != 2 || !a.MTLS.Required {
		t.Fatalf("answer %+v, want denied for no route and for plaintext under STRICT", a)
	}
}
