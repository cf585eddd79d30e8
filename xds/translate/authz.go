package translate

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Names and settings of authorization on inbound traffic; doc.go describes
// how they are used.
const (
	// RBACFilterName is Envoy's (and gRPC's) HTTP RBAC filter. Each policy
	// compiled to RBAC gets its own filter, named RBACFilterName + "/" +
	// namespace + "/" + name, since gRPC refuses two filters of one name
	// and separate filters must all allow (a single RBAC allows when any
	// of its policies does).
	RBACFilterName = "envoy.filters.http.rbac"
	// ExtAuthzFilterName is Envoy's external authorization filter.
	ExtAuthzFilterName = "envoy.filters.http.ext_authz"

	extAuthzTimeout = 200 * time.Millisecond
)

// authzFilters decides the authorization HTTP filters of a workload's
// inbound HCMs, in order: the jwt_authn filter when a policy names JWT
// providers (Envoy only), one RBAC filter per enforced policy that
// compiled to RBAC (or that must fail closed), then, when ext is not nil,
// the ext_authz filter, since some policy needs the agent to decide.
// Proxyless servers cannot call ext_authz, so for them a policy RBAC
// cannot express is reported and, when enforced, denies everything, even
// on a server that asks its agent (pkg/grpcauthz): nothing tells the
// control plane which servers do, and leaving the decision to one that
// never asks would allow every call.
func (t *translator) authzFilters(w *mesh.Workload, proxyless bool) (filters []*hcm.HttpFilter, ext *extAuthzNeeds) {
	var rbacs []*hcm.HttpFilter
	for _, p := range t.s.AuthorizationPoliciesFor(w) {
		c := p.Compiled
		enforce := p.Enforce
		rules, _ := compiledRBAC(c)
		switch {
		case c != nil && c.Err != "":
			t.diag(resource.KindAuthorizationPolicy, p.Namespace, p.Name, "policy does not compile (%s); %s", c.Err, failClosed(enforce))
			if enforce {
				rbacs = append(rbacs, rbacFilter(p, denyAll()))
			}
		case proxyless && enforce && hasJWT(c):
			t.diag(resource.KindAuthorizationPolicy, p.Namespace, p.Name, "policy %s/%s names JWT providers, which proxyless gRPC servers cannot verify (they have no jwt_authn); workload %s denies every request to its gRPC server", p.Namespace, p.Name, w.Name)
			rbacs = append(rbacs, rbacFilter(p, denyAll()))
		case proxyless && !enforce:
			t.diag(resource.KindAuthorizationPolicy, p.Namespace, p.Name, "policy %s/%s is in dry-run, which gRPC's RBAC filter cannot report; workload %s's proxyless server gets no filter for it, and only its agent evaluates it, for calls the server has the agent decide (pkg/grpcauthz)", p.Namespace, p.Name, w.Name)
		case proxyless && rules == nil:
			t.diag(resource.KindAuthorizationPolicy, p.Namespace, p.Name, "policy %s/%s cannot be enforced on proxyless gRPC servers: %s; workload %s denies every request to its gRPC server", p.Namespace, p.Name, notCompiledReason(c), w.Name)
			rbacs = append(rbacs, rbacFilter(p, denyAll()))
		case enforce && rules != nil:
			rbacs = append(rbacs, rbacFilter(p, rules))
		default:
			ext = ext.add(p, enforce)
		}
	}
	if !proxyless {
		if jwt := t.jwtFilter(w); jwt != nil {
			// Tokens are verified first, so a bad one is refused with 401
			// before any policy runs and the claims are there when one does.
			return append([]*hcm.HttpFilter{jwt}, rbacs...), ext.withJWT()
		}
	}
	return rbacs, ext
}

// compiledRBAC returns a policy's RBAC rules, or nil when it has none.
func compiledRBAC(c *mesh.AuthzCompiled) (*rbacv3.RBAC, bool) {
	if c == nil || !c.Compiled {
		return nil, false
	}
	r, ok := c.RBAC.(*rbacv3.RBAC)
	if !ok || r == nil {
		return nil, false
	}
	return r, true
}

func notCompiledReason(c *mesh.AuthzCompiled) string {
	switch {
	case c == nil:
		return "it has not been compiled"
	case c.Reason != "":
		return c.Reason
	}
	return "it did not compile to RBAC"
}

func failClosed(enforce bool) string {
	if enforce {
		return "every request to its targets is denied"
	}
	return "it is in dry-run, so nothing is denied"
}

// denyAll is RBAC that allows nothing: an ALLOW action without policies.
func denyAll() *rbacv3.RBAC {
	return &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW}
}

// rbacFilter wraps one policy's rules as an HTTP RBAC filter.
func rbacFilter(p *mesh.AuthorizationPolicy, r *rbacv3.RBAC) *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name:       RBACFilterName + "/" + p.Namespace + "/" + p.Name,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&rbacfilterv3.RBAC{Rules: r})},
	}
}

// inboundAuthz puts the workload's authorization filters before the
// router of each of its inbound HCMs. tcp listeners are not authorized:
// the policies' input is an HTTP request.
func (t *translator) inboundAuthz(w *mesh.Workload, res *Resources, proxyless bool) {
	filters, ext := t.authzFilters(w, proxyless)
	if len(filters) == 0 && ext == nil {
		return
	}
	protocols := map[string]string{}
	for _, ip := range t.inboundPorts(w) {
		protocols[inboundName(ip.listen)] = ip.port.Protocol
	}
	for _, l := range res.Listeners {
		hfs := filters
		if ext != nil {
			hfs = append(hfs[:len(hfs):len(hfs)], extAuthzFilter(ext, protocols[l.GetName()]))
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				for _, hf := range hfs {
					addHTTPFilter(f, hf)
				}
			}
		}
	}
}

// authzExtensionConfigs carries the bundle of every policy targeting the
// workload to its agent, as TypedExtensionConfigs whose typed_config is a
// google.protobuf.BytesValue holding the bundle's JSON.
func (t *translator) authzExtensionConfigs(w *mesh.Workload) []*core.TypedExtensionConfig {
	var out []*core.TypedExtensionConfig
	for _, p := range t.s.AuthorizationPoliciesFor(w) {
		if p.Compiled == nil || len(p.Compiled.Bundle) == 0 {
			continue
		}
		out = append(out, &core.TypedExtensionConfig{
			Name:        dataplane.AuthzExtensionName(p.Namespace, p.Name),
			TypedConfig: toAny(wrapperspb.Bytes(p.Compiled.Bundle)),
		})
	}
	return out
}
