package translate_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	localrl "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// These tests hold the translator to rules Envoy enforces when it loads
// configuration, beyond what its protos' validation says. Each names the
// Envoy source it mirrors in the code it tests.

// hcms returns every HTTP connection manager of a listener set, by
// listener name and filter chain index.
func hcms(t *testing.T, r *translate.Resources) map[string]*hcm.HttpConnectionManager {
	t.Helper()
	out := map[string]*hcm.HttpConnectionManager{}
	for _, l := range r.Listeners {
		for i, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcm.HttpConnectionManager{}
				if f.GetName() != "envoy.filters.network.http_connection_manager" {
					continue
				}
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					t.Fatal(err)
				}
				out[l.GetName()+"#"+strconv.Itoa(i)] = h
			}
		}
	}
	return out
}

// extAuthzOf returns the ext_authz config of an HCM, or nil.
func extAuthzOf(t *testing.T, h *hcm.HttpConnectionManager) *extauthzv3.ExtAuthz {
	t.Helper()
	for _, hf := range h.GetHttpFilters() {
		if hf.GetName() == translate.ExtAuthzFilterName {
			cfg := &extauthzv3.ExtAuthz{}
			if err := hf.GetTypedConfig().UnmarshalTo(cfg); err != nil {
				t.Fatal(err)
			}
			return cfg
		}
	}
	return nil
}

// forFirstWorkload translates the snapshot for its first workload's
// sidecar and checks the result validates.
func forFirstWorkload(t *testing.T, s *mesh.Snapshot) (*translate.Resources, []translate.Diagnostic) {
	t.Helper()
	p, ok := firstWorkloadProxy(s)
	if !ok {
		t.Fatal("no workload")
	}
	r, diags := translate.ForProxy(s, p)
	if err := validateResources(r); err != nil {
		t.Fatalf("translation does not validate: %v", err)
	}
	return r, diags
}

// TestRateLimitUnderEnvoyMinimumNeverEmitted: a fill interval Envoy
// refuses (under 50ms) that slipped past validation gives a Diagnostic and
// no token bucket, instead of a route configuration every sidecar NACKs.
func TestRateLimitUnderEnvoyMinimumNeverEmitted(t *testing.T) {
	s := snapshotOf(t, webService+`---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules: [{rateLimit: {maxTokens: 10, fillInterval: 20ms}, backends: [{}]}]
`)
	r, diags := forFirstWorkload(t, s)
	if !hasDiagnostic(diags, "Route/default/web", "fillInterval of at least 50ms") {
		t.Errorf("diagnostics %+v lack the short fill interval", diags)
	}
	for _, rc := range r.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if _, ok := rt.GetTypedPerFilterConfig()["envoy.filters.http.local_ratelimit"]; ok {
					t.Errorf("route %s carries a rate limit Envoy would refuse", rt.GetName())
				}
			}
		}
	}
}

// TestHeaderValuesAreSentLiterally: '%' in a header value is escaped for
// Envoy's substitution formatter, in route header edits and in rate limit
// response headers alike, so "50%" neither NACKs the route configuration
// nor is a command expanded.
func TestHeaderValuesAreSentLiterally(t *testing.T) {
	s := snapshotOf(t, webService+`---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: web}
spec:
  service: web
  rules:
    - requestHeaders: {add: {x-discount: '50%'}, set: {x-addr: '%DOWNSTREAM_REMOTE_ADDRESS%'}}
      responseHeaders: {set: {x-done: '100%%'}}
      rateLimit: {maxTokens: 10, fillInterval: 1s, responseHeaders: {x-quota: '%'}}
      backends: [{}]
`)
	r, _ := forFirstWorkload(t, s)
	want := map[string]string{"x-discount": "50%%", "x-addr": "%%DOWNSTREAM_REMOTE_ADDRESS%%", "x-done": "100%%%%", "x-quota": "%%"}
	got := map[string]string{}
	for _, rc := range r.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				for _, h := range append(rt.GetRequestHeadersToAdd(), rt.GetResponseHeadersToAdd()...) {
					got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
				}
				if a := rt.GetTypedPerFilterConfig()["envoy.filters.http.local_ratelimit"]; a != nil {
					lr := &localrl.LocalRateLimit{}
					if err := a.UnmarshalTo(lr); err != nil {
						t.Fatal(err)
					}
					for _, h := range lr.GetResponseHeadersToAdd() {
						got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
					}
				}
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestHealthChecksOnlyWhereTheyCanRun: a gRPC check only on clusters that
// speak HTTP/2, an HTTP check only on HTTP ports; the others are left
// unchecked and named in a Diagnostic.
func TestHealthChecksOnlyWhereTheyCanRun(t *testing.T) {
	const svc = `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: ledger}
spec:
  ports:
    - {name: grpc, port: 50052, protocol: grpc}
    - {name: http, port: 8081, protocol: http}
    - {name: pg, port: 5433, protocol: tcp}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: ledger-1}
spec: {address: 10.0.0.2, services: [ledger]}
---
apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: ledger}
spec:
  service: ledger
`
	cases := []struct {
		name    string
		policy  string
		checked []string // ports whose cluster has a check
		diag    []string // messages naming the ports left out
	}{
		{"grpc", "  healthCheck: {interval: 5s, timeout: 1s, grpc: {}}\n", []string{"50052"},
			[]string{"port http: a grpc check needs a port that speaks HTTP/2 (grpc or http2), not http", "port pg: a grpc check needs"}},
		{"grpc over an http port asked to speak HTTP/2", "  connectionPool: {http2: true}\n  healthCheck: {interval: 5s, timeout: 1s, grpc: {}}\n", []string{"50052", "8081"},
			[]string{"port pg: a grpc check needs"}},
		{"http", "  healthCheck: {interval: 5s, timeout: 1s, http: {path: /healthz}}\n", []string{"50052", "8081"},
			[]string{"port pg: an http check needs an HTTP port (http, http2 or grpc), not tcp"}},
		{"tcp", "  healthCheck: {interval: 5s, timeout: 1s, tcp: {}}\n", []string{"50052", "8081", "5433"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, diags := forFirstWorkload(t, snapshotOf(t, svc+c.policy))
			checked := map[string]bool{}
			for _, cl := range r.Clusters {
				if strings.HasPrefix(cl.GetName(), "outbound|") && len(cl.GetHealthChecks()) > 0 {
					checked[strings.Split(cl.GetName(), "|")[1]] = true
				}
			}
			if len(checked) != len(c.checked) {
				t.Errorf("checked ports %v, want %v", checked, c.checked)
			}
			for _, p := range c.checked {
				if !checked[p] {
					t.Errorf("port %s has no check; checked %v", p, checked)
				}
			}
			for _, m := range c.diag {
				if !hasDiagnostic(diags, "TrafficPolicy/default/ledger", m) {
					t.Errorf("diagnostics %+v lack %q", diags, m)
				}
			}
		})
	}
}

// TestExtAuthzFailureMode: the ext_authz filter fails closed while any
// enforced, fail-closed policy is decided by the agent, and open when the
// agent only runs dry-run or failureMode: allow policies.
func TestExtAuthzFailureMode(t *testing.T) {
	const svc = `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: shop}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: shop-1}
spec: {address: 10.0.0.3, services: [shop]}
`
	// The rego reads a header's value through a function, which partial
	// evaluation cannot turn into RBAC, so enforced policies stay on
	// ext_authz too.
	policy := func(name, extra string) string {
		return `---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ` + name + `}
spec:
  targets: {services: [shop]}
` + extra + `
  modules:
    - name: p.rego
      rego: |
        package envoy.authz
        default allow := false
        allow if startswith(lower(input.attributes.request.http.headers["x-user"]), "a")
`
	}
	cases := []struct {
		name     string
		policies string
		failOpen bool
	}{
		{"enforced", policy("p", "  mode: enforce"), false},
		{"dry-run only", policy("p", "  mode: dry-run"), true},
		{"enforced failing open", policy("p", "  failureMode: allow"), true},
		{"dry-run beside an enforced one", policy("a", "  mode: dry-run") + policy("b", "  mode: enforce"), false},
		{"dry-run beside one failing open", policy("a", "  mode: dry-run") + policy("b", "  failureMode: allow"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mesh.New(1, decodeYAML(t, c.name, []byte(svc+c.policies)), mesh.WithAuthz(compileAuthz))
			r, _ := forFirstWorkload(t, s)
			cfg := extAuthzOf(t, hcms(t, r)["inbound|8080#0"])
			if cfg == nil {
				t.Fatal("no ext_authz filter on inbound|8080")
			}
			if cfg.GetFailureModeAllow() != c.failOpen {
				t.Errorf("failure_mode_allow = %v, want %v", cfg.GetFailureModeAllow(), c.failOpen)
			}
		})
	}
}

// TestExtAuthzBodyOnlyWhenReadAndNeverOnGRPC: Envoy holds an ext_authz
// check that wants the body until the stream ends or the buffer fills, so
// a streaming gRPC call would hang; the body is buffered only for HTTP
// ports of policies that read it.
func TestExtAuthzBodyOnlyWhenReadAndNeverOnGRPC(t *testing.T) {
	doc := func(rule string) string {
		return `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: shop}
spec:
  ports: [{name: http, port: 8080, protocol: http}, {name: grpc, port: 9090, protocol: grpc}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: shop-1}
spec: {address: 10.0.0.3, services: [shop]}
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: p}
spec:
  targets: {services: [shop]}
  mode: dry-run
  modules:
    - name: p.rego
      rego: |
        package envoy.authz
        default allow := false
        allow if ` + rule + `
`
	}
	cases := []struct {
		name, rule string
		http, grpc bool
	}{
		{"headers only", `input.attributes.request.http.method == "GET"`, false, false},
		{"reads the parsed body", `input.parsed_body.amount < 10`, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mesh.New(1, decodeYAML(t, c.name, []byte(doc(c.rule))), mesh.WithAuthz(compileAuthz))
			r, _ := forFirstWorkload(t, s)
			h := hcms(t, r)
			for listener, want := range map[string]bool{"inbound|8080#0": c.http, "inbound|9090#0": c.grpc} {
				cfg := extAuthzOf(t, h[listener])
				if cfg == nil {
					t.Fatalf("no ext_authz filter on %s", listener)
				}
				if got := cfg.GetWithRequestBody() != nil; got != want {
					t.Errorf("%s: with_request_body set = %v, want %v", listener, got, want)
				}
				if b := cfg.GetWithRequestBody(); b != nil && !b.GetAllowPartialMessage() {
					t.Errorf("%s: with_request_body %v refuses large bodies instead of sending a part", listener, b)
				}
			}
		})
	}
}

// TestSidecarHCMsNormalizePaths: every HCM an Envoy sidecar gets, in every
// golden case, decides on the normalized path: dot segments resolved,
// slashes merged, escaped slashes refused. Envoy applies these to :path
// before any HTTP filter, so RBAC's url_path rules and the agent's input
// see "/admin" for "/a/../admin" and "//admin", and "/a%2Fadmin" never
// reaches them.
func TestSidecarHCMsNormalizePaths(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	seen := 0
	for _, in := range inputs {
		s := loadSnapshot(t, in)
		p, ok := firstWorkloadProxy(s)
		if !ok {
			continue
		}
		r, _ := translate.ForProxy(s, p)
		for name, h := range hcms(t, r) {
			seen++
			if !h.GetNormalizePath().GetValue() || !h.GetMergeSlashes() || h.GetPathWithEscapedSlashesAction() != hcm.HttpConnectionManager_REJECT_REQUEST {
				t.Errorf("%s %s: normalize_path %v, merge_slashes %v, escaped slashes %v; want true, true, REJECT_REQUEST",
					filepath.Base(in), name, h.GetNormalizePath(), h.GetMergeSlashes(), h.GetPathWithEscapedSlashesAction())
			}
		}
	}
	if seen == 0 {
		t.Fatal("no HCM seen")
	}
}

// TestPermissiveListenersContinueAfterInspection: a PERMISSIVE listener's
// TLS inspector hands a silent connection (a server-first protocol's
// plaintext client) to the plaintext chain instead of closing it after
// Envoy's 15s default.
func TestPermissiveListenersContinueAfterInspection(t *testing.T) {
	r, _ := forFirstWorkload(t, loadSnapshot(t, filepath.Join("testdata", "in", "mtls-permissive.yaml")))
	inspected := 0
	for _, l := range r.Listeners {
		if len(l.GetListenerFilters()) == 0 {
			continue
		}
		inspected++
		if !l.GetContinueOnListenerFiltersTimeout() {
			t.Errorf("%s: continue_on_listener_filters_timeout is off", l.GetName())
		}
		if d := l.GetListenerFiltersTimeout(); d == nil || d.AsDuration() <= 0 {
			t.Errorf("%s: listener_filters_timeout %v, want a positive bound", l.GetName(), d)
		}
	}
	if inspected == 0 {
		t.Fatal("no listener with a TLS inspector")
	}
}

// TestOutlierDetectionEjectsOnlyOnWhatIsAsked: with only
// consecutiveGatewayErrors set, Envoy's default consecutive_5xx (5, fully
// enforced) would also eject on application 5xx; its enforcement is off.
func TestOutlierDetectionEjectsOnlyOnWhatIsAsked(t *testing.T) {
	for _, c := range []struct {
		spec       string
		enforce5xx *uint32
	}{
		{"{consecutiveGatewayErrors: 3}", ptr(uint32(0))},
		{"{consecutive5xx: 4}", nil},
	} {
		r, _ := forFirstWorkload(t, snapshotOf(t, webService+`---
apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection: `+c.spec+`
`))
		for _, cl := range r.Clusters {
			od := cl.GetOutlierDetection()
			if !strings.HasPrefix(cl.GetName(), "outbound|") || od == nil {
				continue
			}
			got := od.GetEnforcingConsecutive_5Xx()
			switch {
			case c.enforce5xx == nil && got != nil:
				t.Errorf("%s: enforcing_consecutive_5xx = %v, want Envoy's default", c.spec, got)
			case c.enforce5xx != nil && (got == nil || got.GetValue() != *c.enforce5xx):
				t.Errorf("%s: enforcing_consecutive_5xx = %v, want %d", c.spec, got, *c.enforce5xx)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestEndpointWeightSumsFitUint32: endpoint weights whose sum overflows a
// uint32 are scaled down in proportion, with a Diagnostic, instead of the
// locality weight wrapping around (which misroutes) or overflowing the
// sum Envoy checks (which it refuses).
func TestEndpointWeightSumsFitUint32(t *testing.T) {
	s := snapshotOf(t, `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
  endpoints:
    - {address: 10.0.0.1, weight: 4294967295}
    - {address: 10.0.0.2, weight: 4294967295}
    - {address: 10.0.0.3, weight: 2147483648, locality: {region: eu}}
    - {address: 10.0.0.4, weight: 1, locality: {region: eu}}
`)
	r, diags := translate.Outbound(s)
	if err := validateResources(r); err != nil {
		t.Fatal(err)
	}
	if !hasDiagnostic(diags, "Service/default/web", "add up to more than 4294967295") {
		t.Errorf("diagnostics %+v lack the scaled weights", diags)
	}
	for _, cla := range r.Endpoints {
		var total uint64
		weights := map[string]uint32{}
		for _, l := range cla.GetEndpoints() {
			var sum uint64
			for _, e := range l.GetLbEndpoints() {
				w := e.GetLoadBalancingWeight().GetValue()
				sum += uint64(w)
				weights[e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = w
			}
			if uint64(l.GetLoadBalancingWeight().GetValue()) != sum {
				t.Errorf("%s: locality %v weighs %d, its endpoints %d", cla.GetClusterName(), l.GetLocality(), l.GetLoadBalancingWeight().GetValue(), sum)
			}
			total += sum
		}
		if total > 1<<32-1 {
			t.Errorf("%s: weights add up to %d", cla.GetClusterName(), total)
		}
		// Proportions survive: the first two stay equal and twice the third.
		if a, b, c := weights["10.0.0.1"], weights["10.0.0.2"], weights["10.0.0.3"]; a != b || a/c != 1 && a/c != 2 || weights["10.0.0.4"] != 1 {
			t.Errorf("%s: weights %v lost their proportions", cla.GetClusterName(), weights)
		}
	}
}
