package translate_test

import (
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// snapshotOf decodes inline YAML documents into a snapshot.
func snapshotOf(t *testing.T, docs string) *mesh.Snapshot {
	t.Helper()
	return mesh.New(1, decodeYAML(t, t.Name(), []byte(docs)))
}

const webService = `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1}
spec: {address: 10.0.0.1, services: [web], labels: {version: v1}}
`

// TestDiagnostics checks that each problem is reported against the right
// resource, and that the translation around it still validates.
func TestDiagnostics(t *testing.T) {
	cases := []struct {
		name     string
		docs     string
		flavour  translate.Flavour
		resource string
		message  string
		// check inspects the resources translated despite the problem.
		check func(t *testing.T, r *translate.Resources)
	}{
		{
			name: "subset without endpoints",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules: [{backends: [{subset: {version: v9}}]}]
`,
			flavour:  translate.Envoy,
			resource: "Route/default/web",
			message:  "backend subset version=v9 of web.default port 8080 has no endpoints",
			check: func(t *testing.T, r *translate.Resources) {
				if !hasCluster(r, "outbound|8080|version=v9|web.default") {
					t.Error("the empty subset's cluster is not served")
				}
			},
		},
		{
			name: "route to a missing service",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: ghost}
spec: {service: ghost, rules: [{}]}
`,
			flavour:  translate.Proxyless,
			resource: "Route/default/ghost",
			message:  "service ghost.default does not exist",
		},
		{
			name: "backend on a missing service",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules: [{name: away, backends: [{service: gone}]}]
`,
			flavour:  translate.Envoy,
			resource: "Route/default/web",
			message:  `rule "away" has no reachable backend`,
			check: func(t *testing.T, r *translate.Resources) {
				if n := len(r.Routes[0].GetVirtualHosts()[0].GetRoutes()); n != 0 {
					t.Errorf("the unreachable rule produced %d routes, want 0", n)
				}
			},
		},
		{
			name: "all weights zero",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules: [{backends: [{subset: {version: v1}, weight: 0}, {weight: 0}]}]
`,
			flavour:  translate.Envoy,
			resource: "Route/default/web",
			message:  "rule 0 gives every backend weight 0",
		},
		{
			name: "malformed timeout",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules: [{timeout: soon}]
`,
			flavour:  translate.Proxyless,
			resource: "Route/default/web",
			message:  `timeout "soon" is not a duration`,
		},
		{
			name: "route port that is not http",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec: {service: web, port: 9999, rules: [{}]}
`,
			flavour:  translate.Envoy,
			resource: "Route/default/web",
			message:  "port 9999 is not an http, http2 or grpc port of web.default",
		},
		{
			name: "random is not for proxyless",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec: {service: web, loadBalancer: {policy: RANDOM}}
`,
			flavour:  translate.Proxyless,
			resource: "TrafficPolicy/default/web",
			message:  "RANDOM is not supported by proxyless gRPC clients",
			check: func(t *testing.T, r *translate.Resources) {
				if p := r.Clusters[0].GetLbPolicy().String(); p != "ROUND_ROBIN" {
					t.Errorf("lb_policy = %s, want ROUND_ROBIN", p)
				}
			},
		},
		{
			name: "maglev is not for proxyless",
			docs: webService + `---
apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec: {service: web, loadBalancer: {policy: MAGLEV, hashHeader: x-user}}
`,
			flavour:  translate.Proxyless,
			resource: "TrafficPolicy/default/web",
			message:  "MAGLEV is not supported by proxyless gRPC clients",
			check: func(t *testing.T, r *translate.Resources) {
				if hp := r.Routes[0].GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetHashPolicy(); len(hp) != 0 {
					t.Errorf("proxyless route hashes by %v for a policy it does not run", hp)
				}
			},
		},
		{
			name: "inbound listener on its own app's socket",
			docs: `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo}
spec: {ports: [{name: grpc, port: 50051, protocol: grpc}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-1}
spec: {address: 127.0.0.1, services: [echo], ports: [{name: grpc, port: 18081}]}
`,
			flavour:  translate.Envoy,
			resource: "Workload/default/echo-1",
			message:  "port grpc: the sidecar would listen on 127.0.0.1:18081, where the app of port grpc listens (127.0.0.1:18081); no inbound listener. Set spec.ports[].appPort",
			check: func(t *testing.T, r *translate.Resources) {
				if hasListener(r, "inbound|18081") {
					t.Error("the sidecar binds its own app's socket and forwards to itself")
				}
			},
		},
		{
			name: "inbound listener on another port's app",
			docs: `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec: {ports: [{name: http, port: 8080, protocol: http}, {name: admin, port: 9090, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1}
spec: {address: 127.0.0.1, services: [web], ports: [{name: http, port: 8080, appPort: 9090}, {name: admin, port: 9090, appPort: 9091}]}
`,
			flavour:  translate.Envoy,
			resource: "Workload/default/web-1",
			message:  "port admin: the sidecar would listen on 127.0.0.1:9090, where the app of port http listens",
			check: func(t *testing.T, r *translate.Resources) {
				if hasListener(r, "inbound|9090") || !hasListener(r, "inbound|8080") {
					t.Error("want inbound|8080 kept and inbound|9090, on the app's socket, left out")
				}
			},
		},
		{
			name: "app on the outbound http port",
			docs: `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec: {ports: [{name: http, port: 15001, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1}
spec: {address: 10.0.0.1, services: [web]}
`,
			flavour:  translate.Envoy,
			resource: "Workload/default/web-1",
			message:  "port http: its app port 15001 is where the sidecar takes apps' outbound HTTP (127.0.0.1:15001); no inbound listener",
			check: func(t *testing.T, r *translate.Resources) {
				if hasListener(r, "inbound|15001") || !hasListener(r, "outbound_http") {
					t.Error("want outbound_http kept and inbound|15001, forwarding into it, left out")
				}
			},
		},
		{
			name: "inbound clashes with outbound http",
			docs: `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec: {ports: [{name: http, port: 15001, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1}
spec: {address: 127.0.0.1, services: [web], ports: [{name: http, port: 15001, appPort: 8080}]}
`,
			flavour:  translate.Envoy,
			resource: "Workload/default/web-1",
			message:  "inbound listener on 127.0.0.1:15001 clashes with outbound listener outbound_http",
			check: func(t *testing.T, r *translate.Resources) {
				if hasListener(r, "outbound_http") || !hasListener(r, "inbound|15001") {
					t.Error("want inbound|15001 kept and outbound_http dropped")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshotOf(t, tc.docs)
			var r *translate.Resources
			var diags []translate.Diagnostic
			if w, ok := firstWorkloadProxy(s); ok && tc.flavour == translate.Envoy {
				r, diags = translate.ForProxy(s, w)
			} else if tc.flavour == translate.Envoy {
				r, diags = translate.Outbound(s)
			} else {
				r, diags = translate.ProxylessClient(s)
			}
			if !hasDiagnostic(diags, tc.resource, tc.message) {
				t.Errorf("diagnostics %+v lack %s: %q", diags, tc.resource, tc.message)
			}
			if err := validate.Resources(r, dataplane.SDSSecretNames()); err != nil {
				t.Errorf("translation around the problem does not validate: %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestCleanMeshHasNoDiagnostics guards against diagnostics that fire on
// healthy input, which would train operators to ignore them.
func TestCleanMeshHasNoDiagnostics(t *testing.T) {
	s := loadSnapshot(t, "testdata/in/weighted-subsets.yaml")
	p, _ := firstWorkloadProxy(s)
	for _, f := range []translate.Flavour{translate.Envoy, translate.Proxyless} {
		p.Flavour = f
		if _, diags := translate.ForProxy(s, p); len(diags) != 0 {
			t.Errorf("%s: unexpected diagnostics %+v", f, diags)
		}
	}
}

func TestInboundUnknownWorkload(t *testing.T) {
	s := snapshotOf(t, webService)
	r, diags := translate.Inbound(s, translate.Proxy{ID: "nobody.default", Flavour: translate.Envoy, Workload: "nobody", Namespace: "default"})
	if len(r.Listeners)+len(r.Clusters)+len(r.Routes)+len(r.Endpoints) != 0 {
		t.Errorf("unknown workload got resources: %+v", r)
	}
	if !hasDiagnostic(diags, "Workload/default/nobody", "does not exist") {
		t.Errorf("diagnostics %+v lack the unknown workload", diags)
	}
}

func TestForProxyBadNodeID(t *testing.T) {
	s := snapshotOf(t, webService)
	r, diags := translate.ForProxy(s, translate.Proxy{ID: "no-dot", Flavour: translate.Envoy})
	if len(r.Listeners) != 0 || len(diags) != 1 || !strings.Contains(diags[0].Message, "no-dot") {
		t.Errorf("got %d listeners and diagnostics %+v, want none and one naming the id", len(r.Listeners), diags)
	}
}

func hasDiagnostic(diags []translate.Diagnostic, resource, message string) bool {
	for _, d := range diags {
		if d.Resource == resource && strings.Contains(d.Message, message) {
			return true
		}
	}
	return false
}

func hasCluster(r *translate.Resources, name string) bool {
	for _, c := range r.Clusters {
		if c.GetName() == name {
			return true
		}
	}
	return false
}

func hasListener(r *translate.Resources, name string) bool {
	for _, l := range r.Listeners {
		if l.GetName() == name {
			return true
		}
	}
	return false
}
