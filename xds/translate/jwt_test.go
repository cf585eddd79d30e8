package translate_test

import (
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"embassy.dev/embassy/xds/translate"
)

// inboundHTTPFilters returns the HTTP filters of the first HCM of a
// listener whose name contains inbound.
func inboundHTTPFilters(t *testing.T, r *translate.Resources, inbound string) []*hcm.HttpFilter {
	t.Helper()
	for _, l := range r.Listeners {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) == nil && len(h.HttpFilters) > 0 && strings.Contains(l.GetName(), inbound) {
					return h.HttpFilters
				}
			}
		}
	}
	t.Fatal("no inbound HCM")
	return nil
}

func TestJWTAuthnBeforeAuthorization(t *testing.T) {
	s := authzSnapshot(t, "authz-jwt")
	r, diags := translate.ForProxy(s, proxy(translate.Envoy, "default", "orders-1"))
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	fs := inboundHTTPFilters(t, r, "inbound")
	var names []string
	for _, f := range fs {
		names = append(names, f.GetName())
	}
	if len(fs) < 3 || fs[0].GetName() != translate.JWTAuthnFilterName || fs[1].GetName() != translate.ExtAuthzFilterName {
		t.Fatalf("filters %v: want jwt_authn, then ext_authz, then the rest", names)
	}

	cfg := &jwtv3.JwtAuthentication{}
	if err := fs[0].GetTypedConfig().UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	users := cfg.GetProviders()["users"]
	if users.GetIssuer() != "https://id.example.com" || users.GetPayloadInMetadata() != "users" || users.GetForward() ||
		users.GetFromHeaders()[0].GetName() != "authorization" || users.GetFromHeaders()[0].GetValuePrefix() != "Bearer " ||
		!strings.Contains(users.GetLocalJwks().GetInlineString(), "users-2025") {
		t.Fatalf("users provider: %v", users)
	}
	partners := cfg.GetProviders()["partners"]
	if !partners.GetForward() || partners.GetFromHeaders()[0].GetName() != "x-partner-token" || partners.GetFromHeaders()[0].GetValuePrefix() != "" {
		t.Fatalf("partners provider: %v", partners)
	}
	reqs := cfg.GetRules()[0].GetRequires().GetRequiresAny().GetRequirements()
	if len(reqs) != 3 || reqs[0].GetProviderName() != "partners" || reqs[1].GetProviderName() != "users" || reqs[2].GetAllowMissing() == nil {
		t.Fatalf("requirements %v: want requires_any of every provider and allow_missing", reqs)
	}

	ea := &extauthzv3.ExtAuthz{}
	if err := fs[1].GetTypedConfig().UnmarshalTo(ea); err != nil {
		t.Fatal(err)
	}
	if ns := ea.GetMetadataContextNamespaces(); len(ns) != 1 || ns[0] != translate.JWTAuthnFilterName {
		t.Fatalf("ext_authz metadata_context_namespaces %v", ns)
	}
}

// TestJWTProxylessFailsClosed: gRPC servers have no jwt_authn, so an
// enforced policy with providers denies everything there, and says so.
func TestJWTProxylessFailsClosed(t *testing.T) {
	s := authzSnapshot(t, "authz-jwt")
	r, diags := translate.ProxylessServer(s, proxy(translate.Proxyless, "default", "orders-1"))
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "cannot verify") {
		t.Fatalf("diagnostics %v", diags)
	}
	denies := false
	for _, f := range inboundHTTPFilters(t, r, "") {
		if strings.HasPrefix(f.GetName(), translate.RBACFilterName) {
			denies = true
		}
		if f.GetName() == translate.JWTAuthnFilterName {
			t.Fatal("jwt_authn served to a proxyless server")
		}
	}
	if !denies {
		t.Fatal("no deny-all RBAC filter on the proxyless server")
	}
}
