package posture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/whatif"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/rbac"
)

func serviceKey(s *mesh.Service) string {
	return resource.Key{Kind: resource.KindService, Namespace: s.Ref.Namespace, Name: s.Ref.Name}.String()
}

func policyKey(p *mesh.AuthorizationPolicy) string {
	return resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: p.Namespace, Name: p.Name}.String()
}

// mtlsRule: the mesh's mode applies to every service, so one finding
// lists them all.
func mtlsRule(in Inputs) []Finding {
	mode := in.Mesh.MTLSMode
	if mode == resource.MTLSStrict {
		return nil
	}
	res := []string{"Mesh"}
	for _, s := range in.Mesh.Services {
		res = append(res, serviceKey(s))
	}
	if mode == resource.MTLSDisabled {
		return []Finding{{ID: "mtls-disabled", Severity: High, Resources: res,
			Title: "mTLS is DISABLED: traffic between services is plaintext and callers have no identity",
			Fix:   "set spec.mtls.mode: STRICT on the Mesh (PERMISSIVE first if plaintext clients remain)"}}
	}
	return []Finding{{ID: "mtls-permissive", Severity: Medium, Resources: res,
		Title: "mTLS is PERMISSIVE: every service also accepts plaintext, without a caller identity",
		Fix:   "once every caller has a sidecar or xDS credentials, set spec.mtls.mode: STRICT on the Mesh"}}
}

// enforced reports whether an enforce-mode policy protects the service:
// one naming it, or one whose selector picks one of its workloads.
func enforced(snap *mesh.Snapshot, svc *mesh.Service) bool {
	for _, p := range snap.AuthorizationPolicies {
		if p.Namespace != svc.Ref.Namespace || !p.Enforce {
			continue
		}
		for _, name := range p.Spec.Targets.Services {
			if name == svc.Ref.Name {
				return true
			}
		}
		for _, ep := range svc.Endpoints {
			if w := snap.Workload(svc.Ref.Namespace, ep.Workload); ep.Workload != "" && w != nil && mesh.Targets(p, w) {
				return true
			}
		}
	}
	return false
}

func unprotectedServices(in Inputs) []Finding {
	var out []Finding
	for _, s := range in.Mesh.Services {
		if enforced(in.Mesh, s) {
			continue
		}
		out = append(out, Finding{ID: "service-without-authz", Severity: Medium, Resources: []string{serviceKey(s)},
			Title: fmt.Sprintf("service %s has no enforced AuthorizationPolicy: any identity in the mesh may call it", s.Ref),
			Fix:   fmt.Sprintf("apply an AuthorizationPolicy in namespace %s with targets.services: [%s] and mode: enforce", s.Ref.Namespace, s.Ref.Name)})
	}
	return out
}

func dryRunPolicies(in Inputs) []Finding {
	var out []Finding
	for _, p := range in.Mesh.AuthorizationPolicies {
		if p.Enforce {
			continue
		}
		out = append(out, Finding{ID: "policy-dry-run", Severity: Low, Resources: []string{policyKey(p)},
			Title: fmt.Sprintf("AuthorizationPolicy %s/%s is in dry-run: it logs what it would deny and denies nothing", p.Namespace, p.Name),
			Fix:   fmt.Sprintf("check its would-deny decisions (embassyctl describe authz %s -n %s, or GET /v1/policies), then set spec.mode: enforce", p.Name, p.Namespace)})
	}
	return out
}

// allowAllPolicies finds policies that allow every request: their RBAC
// form allows any principal any permission, or they allow both an empty
// input and a random one.
func allowAllPolicies(in Inputs) []Finding {
	decide := in.Decide
	if decide == nil {
		decide = whatif.LocalDecide
	}
	var out []Finding
	for _, p := range in.Mesh.AuthorizationPolicies {
		if !allowsAll(p, decide) {
			continue
		}
		out = append(out, Finding{ID: "policy-allows-all", Severity: High, Resources: []string{policyKey(p)},
			Title: fmt.Sprintf("AuthorizationPolicy %s/%s allows every request: it protects nothing", p.Namespace, p.Name),
			Fix:   "make its rule depend on the caller (input.attributes.source.principal) or the request; start from default allow := false"})
	}
	return out
}

// allowsAll reads the snapshot's compiled form of the policy and decides
// with decide; only a snapshot built without a compiler (tests, offline
// tools) makes it compile here. A policy that failed to compile protects
// its targets by denying, so it does not allow all.
func allowsAll(p *mesh.AuthorizationPolicy, decide whatif.DecideFunc) bool {
	if c := p.Compiled; c != nil {
		if rules, ok := c.RBAC.(*rbacv3.RBAC); ok && c.Compiled && anyAllowed(rules) {
			return true
		}
	} else if r, err := rbac.Compile(p.Spec.Modules, p.Spec.Data, p.Spec.Query, p.Spec.RegoVersion); err == nil && r.Compiled && anyAllowed(r.RBAC) {
		return true
	}
	b, err := whatif.BundleOf(p)
	if err != nil {
		return false
	}
	for _, input := range []map[string]any{{}, randomInput()} {
		ds, err := decide(context.Background(), []*compile.Bundle{b}, input)
		if err != nil || ds[0].Failed || !ds[0].Allowed {
			return false
		}
	}
	return true
}

// anyAllowed reports whether an ALLOW RBAC has a policy matching any
// principal with any permission.
func anyAllowed(r *rbacv3.RBAC) bool {
	if r == nil || r.GetAction() != rbacv3.RBAC_ALLOW {
		return false
	}
	for _, pol := range r.GetPolicies() {
		perm, prin := false, false
		for _, p := range pol.GetPermissions() {
			perm = perm || p.GetAny()
		}
		for _, p := range pol.GetPrincipals() {
			prin = prin || p.GetAny()
		}
		if perm && prin {
			return true
		}
	}
	return false
}

// randomInput is an ext_authz input of a caller and request no policy
// could have anticipated.
func randomInput() map[string]any {
	n := strconv.FormatUint(rand.Uint64(), 36)
	return map[string]any{
		"attributes": map[string]any{
			"source": map[string]any{"principal": "spiffe://random-" + n + ".example/ns/x/sa/" + n},
			"request": map[string]any{"http": map[string]any{
				"method": "PATCH", "path": "/" + n + "/" + n, "host": n + ".invalid",
				"headers": map[string]any{":method": "PATCH", ":path": "/" + n, "x-" + n: n},
			}},
		},
		"parsed_path":  []any{n, n},
		"parsed_query": map[string]any{},
	}
}
