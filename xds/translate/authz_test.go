package translate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/xds/translate"
)

// compileAuthz is the control plane's policy compiler, in process.
var compileAuthz = meshtest.CompileAuthz

func authzSnapshot(t *testing.T, name string) *mesh.Snapshot {
	t.Helper()
	return loadSnapshot(t, filepath.Join("testdata", "in", name+".yaml"))
}

func proxy(flavour translate.Flavour, ns, workload string) translate.Proxy {
	return translate.Proxy{ID: workload + "." + ns, Flavour: flavour, Workload: workload, Namespace: ns}
}

// httpFilterNames lists the HTTP filters of every HCM of a listener set,
// "listener: f1,f2,...".
func httpFilterNames(t *testing.T, r *translate.Resources) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range r.Listeners {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) != nil {
					continue
				}
				var names []string
				for _, hf := range h.GetHttpFilters() {
					names = append(names, hf.GetName())
				}
				out[l.GetName()] = strings.Join(names, ",")
			}
		}
	}
	return out
}

func TestAuthzFilterChoice(t *testing.T) {
	cases := []struct {
		in, ns, workload, listener, want string
	}{
		{"authz-rbac", "default", "payments-1", "inbound|9090", "envoy.filters.http.rbac/default/payments-callers,envoy.filters.http.router"},
		{"authz-extauthz", "default", "orders-1", "inbound|8080", "envoy.filters.http.rbac/default/methods,envoy.filters.http.ext_authz,envoy.filters.http.router"},
		{"authz-dryrun", "default", "reviews-1", "inbound|8080", "envoy.filters.http.ext_authz,envoy.filters.http.router"},
		// A rate limit stays right before the router, after authorization.
		{"ratelimit", "default", "api-1", "inbound|8080", "envoy.filters.http.local_ratelimit,envoy.filters.http.router"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			r, _ := translate.Inbound(authzSnapshot(t, c.in), proxy(translate.Envoy, c.ns, c.workload))
			if err := validateResources(r); err != nil {
				t.Fatalf("inbound resources do not validate: %v", err)
			}
			if got := httpFilterNames(t, r)[c.listener]; got != c.want {
				t.Errorf("%s filters = %s, want %s", c.listener, got, c.want)
			}
		})
	}
}

func TestAuthzTCPListenerHasNoFilter(t *testing.T) {
	r, _ := translate.Inbound(authzSnapshot(t, "authz-rbac"), proxy(translate.Envoy, "default", "payments-1"))
	if _, ok := httpFilterNames(t, r)["inbound|5432"]; ok {
		t.Error("the tcp listener got an HTTP connection manager")
	}
}

// TestExtAuthzFilterSettings checks an enforced policy that reads the body:
// fail closed, body buffered.
func TestExtAuthzFilterSettings(t *testing.T) {
	r, _ := translate.Inbound(authzSnapshot(t, "authz-extauthz"), proxy(translate.Envoy, "default", "orders-1"))
	var cfg *extauthzv3.ExtAuthz
	for _, l := range r.Listeners {
		h := &hcm.HttpConnectionManager{}
		if l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(h) != nil {
			continue
		}
		for _, hf := range h.GetHttpFilters() {
			if hf.GetName() == translate.ExtAuthzFilterName {
				cfg = &extauthzv3.ExtAuthz{}
				if err := hf.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if cfg == nil {
		t.Fatal("no ext_authz filter")
	}
	gs := cfg.GetGrpcService()
	if gs.GetEnvoyGrpc().GetClusterName() != "embassy_authz" || gs.GetTimeout().AsDuration().Milliseconds() != 200 {
		t.Errorf("grpc_service = %v, want envoy_grpc embassy_authz with a 200ms timeout", gs)
	}
	if cfg.GetTransportApiVersion().String() != "V3" || cfg.GetFailureModeAllow() {
		t.Errorf("transport_api_version %v, failure_mode_allow %v; want V3 and false", cfg.GetTransportApiVersion(), cfg.GetFailureModeAllow())
	}
	if b := cfg.GetWithRequestBody(); b.GetMaxRequestBytes() != 8192 || !b.GetAllowPartialMessage() {
		t.Errorf("with_request_body = %v, want 8KiB, partial allowed", b)
	}
}

func TestAuthzBundlesGoToTargetedWorkloads(t *testing.T) {
	s := authzSnapshot(t, "authz-extauthz")
	r, _ := translate.Inbound(s, proxy(translate.Envoy, "default", "orders-1"))
	var names []string
	for _, ec := range r.ExtensionConfigs {
		names = append(names, ec.GetName())
		bv := &wrapperspb.BytesValue{}
		if err := ec.GetTypedConfig().UnmarshalTo(bv); err != nil {
			t.Fatalf("%s: typed_config is not a BytesValue: %v", ec.GetName(), err)
		}
		b := &compile.Bundle{}
		if err := json.Unmarshal(bv.GetValue(), b); err != nil {
			t.Fatalf("%s: bundle does not load: %v", ec.GetName(), err)
		}
		var p *mesh.AuthorizationPolicy
		for _, ap := range s.AuthorizationPolicies {
			if dataplane.AuthzExtensionName(ap.Namespace, ap.Name) == ec.GetName() {
				p = ap
			}
		}
		if p == nil || b.Revision() != p.Compiled.Revision {
			t.Errorf("%s: bundle revision %s does not match its policy", ec.GetName(), b.Revision())
		}
	}
	if got, want := strings.Join(names, " "), "embassy.authz/default/body-check embassy.authz/default/methods"; got != want {
		t.Errorf("extension configs = %s, want %s", got, want)
	}
	// An untargeted workload gets none.
	r, _ = translate.Inbound(authzSnapshot(t, "authz-rbac"), proxy(translate.Envoy, "default", "nosuch"))
	if len(r.ExtensionConfigs) != 0 {
		t.Errorf("unknown workload got %d extension configs", len(r.ExtensionConfigs))
	}
}

// An agent's bundles, built on their own, are exactly those its workload's
// inbound translation carries, and nothing else.
func TestAuthzBundlesAloneMatchInbound(t *testing.T) {
	s := authzSnapshot(t, "authz-extauthz")
	px := proxy(translate.Envoy, "default", "orders-1")
	in, _ := translate.Inbound(s, px)
	alone, _ := translate.AuthzBundles(s, px)
	if len(alone.Listeners)+len(alone.Clusters)+len(alone.Routes)+len(alone.Endpoints) != 0 {
		t.Fatalf("AuthzBundles returned more than bundles: %+v", alone)
	}
	if len(alone.ExtensionConfigs) == 0 || len(alone.ExtensionConfigs) != len(in.ExtensionConfigs) {
		t.Fatalf("AuthzBundles gave %d bundles, Inbound %d", len(alone.ExtensionConfigs), len(in.ExtensionConfigs))
	}
	for i := range in.ExtensionConfigs {
		if !proto.Equal(in.ExtensionConfigs[i], alone.ExtensionConfigs[i]) {
			t.Errorf("bundle %d differs: %s vs %s", i, in.ExtensionConfigs[i].GetName(), alone.ExtensionConfigs[i].GetName())
		}
	}
	if r, _ := translate.AuthzBundles(s, proxy(translate.Envoy, "default", "nosuch")); len(r.ExtensionConfigs) != 0 {
		t.Errorf("unknown workload got %d bundles", len(r.ExtensionConfigs))
	}
}

func TestAuthzProxylessServers(t *testing.T) {
	s := authzSnapshot(t, "authz-proxyless")
	greeter, diags := translate.ProxylessServer(s, proxy(translate.Proxyless, "default", "greeter-1"))
	if len(diags) != 0 {
		t.Errorf("greeter diagnostics: %v", diags)
	}
	ledger, diags := translate.ProxylessServer(s, proxy(translate.Proxyless, "default", "ledger-1"))
	want := "policy default/ledger-body cannot be enforced on proxyless gRPC servers: "
	if len(diags) != 1 || diags[0].Resource != "AuthorizationPolicy/default/ledger-body" || !strings.HasPrefix(diags[0].Message, want) {
		t.Errorf("ledger diagnostics = %v, want one starting %q", diags, want)
	}
	both := translate.Merge(greeter, ledger)
	if err := validateResources(both); err != nil {
		t.Fatalf("server listeners do not validate: %v", err)
	}
	for listener, filters := range httpFilterNames(t, both) {
		if !strings.HasPrefix(filters, translate.RBACFilterName+"/") || strings.Contains(filters, "ext_authz") {
			t.Errorf("%s filters = %s, want RBAC and no ext_authz", listener, filters)
		}
	}
	// The ledger server's RBAC has no policies: it denies every call.
	for _, l := range ledger.Listeners {
		h := &hcm.HttpConnectionManager{}
		if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(h); err != nil {
			t.Fatal(err)
		}
		cfg := &rbacfilterv3.RBAC{}
		if err := h.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.GetRules().GetAction().String() != "ALLOW" || len(cfg.GetRules().GetPolicies()) != 0 {
			t.Errorf("ledger RBAC = %v, want ALLOW with no policies", cfg.GetRules())
		}
	}
	checkGolden(t, "authz-proxyless.server", both)
}

func TestAuthzDryRunOnProxylessIsReportedNotApplied(t *testing.T) {
	s := authzSnapshot(t, "authz-dryrun")
	r, diags := translate.ProxylessServer(s, proxy(translate.Proxyless, "default", "reviews-1"))
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "dry-run") {
		t.Errorf("diagnostics = %v, want one about dry-run", diags)
	}
	for l, f := range httpFilterNames(t, r) {
		if f != "envoy.filters.http.router" {
			t.Errorf("%s filters = %s, want only the router", l, f)
		}
	}
}

func TestAuthzWithoutCompilerUsesExtAuthz(t *testing.T) {
	// A snapshot built without the compiler leaves the agent to decide.
	s := mesh.New(1, authzSnapshotResources(t, "authz-rbac"))
	r, _ := translate.Inbound(s, proxy(translate.Envoy, "default", "payments-1"))
	if got := httpFilterNames(t, r)["inbound|9090"]; got != "envoy.filters.http.ext_authz,envoy.filters.http.router" {
		t.Errorf("filters = %s", got)
	}
}

func TestAuthzPolicyThatFailsToCompileFailsClosed(t *testing.T) {
	s := mesh.New(1, authzSnapshotResources(t, "authz-rbac"), mesh.WithAuthz(func(*mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
		return &mesh.AuthzCompiled{Mode: "enforce", Err: "payments.rego:1:1: rego_parse_error: boom"}
	}))
	r, diags := translate.Inbound(s, proxy(translate.Envoy, "default", "payments-1"))
	if got := httpFilterNames(t, r)["inbound|9090"]; got != "envoy.filters.http.rbac/default/payments-callers,envoy.filters.http.router" {
		t.Errorf("filters = %s, want a deny-all RBAC", got)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "every request to its targets is denied") {
		t.Errorf("diagnostics = %v", diags)
	}
}

// authzSnapshotResources decodes a golden input without building a snapshot.
func authzSnapshotResources(t *testing.T, name string) []*resource.Resource {
	t.Helper()
	path := filepath.Join("testdata", "in", name+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeYAML(t, path, data)
}
