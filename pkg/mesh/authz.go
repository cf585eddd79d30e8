package mesh

import (
	"sort"
	"sync"

	"embassy.dev/embassy/pkg/resource"
)

// AuthzCompiled is what the policy compiler made of one
// AuthorizationPolicy revision. The model carries it without knowing OPA
// or Envoy: Bundle is bytes and RBAC is opaque here; the translator knows
// what RBAC holds (an *rbacv3.RBAC).
type AuthzCompiled struct {
	// Revision is the bundle's content revision.
	Revision string
	// Bundle is the JSON of the compiled bundle, sent to the agents of the
	// targeted workloads.
	Bundle []byte
	// Mode is the bundle's mode with its default filled in: "enforce" or
	// "dry-run".
	Mode string
	// Compiled is set when the policy compiled to RBAC; RBAC then holds
	// the rules.
	Compiled bool
	RBAC     any
	// MayAllow, when set with Compiled, says whether RBAC can allow any
	// request of a caller authenticated as the given SPIFFE ID
	// (policy/rbac.MayAllow); config scoping reads it. Without it the
	// policy's callers are not analysed, and every service stays visible.
	MayAllow func(principal string) bool
	// Callers, when not nil, is exactly the set MayAllow is true for (the
	// policy only names its callers, policy/rbac.AllowedPrincipals), so
	// scoping can index callers instead of asking per caller.
	Callers map[string]bool
	// Reason and Location say, when not Compiled, what kept the policy on
	// ext_authz.
	Reason   string
	Location string
	// Err is set when the policy did not compile at all (it passed at
	// apply, so only a changed compiler can cause this). Such a policy
	// fails closed.
	Err string
	// JWTProviders are the policy's end-user token issuers with their key
	// sets resolved (fetched by the control plane when the policy names a
	// URL), so proxies verify tokens without fetching keys.
	JWTProviders []JWTProvider
}

// JWTProvider is one resolved end-user token issuer of a compiled policy.
type JWTProvider struct {
	Name      string
	Issuer    string
	Audiences []string
	// JWKS is the key set document; empty while a URL's keys have not
	// been fetched, when no token of the provider verifies.
	JWKS string
	// Header is the lower-case header carrying the token and ValuePrefix
	// what precedes it there ("Bearer " in authorization).
	Header      string
	ValuePrefix string
	// Forward keeps the header on the request sent upstream.
	Forward bool
}

// AuthzCompiler compiles one policy. It must be pure and safe for
// concurrent use; it is called once per policy in New, and is expected to
// memoise by content so that a push does not recompile unchanged policies.
type AuthzCompiler func(*AuthorizationPolicy) *AuthzCompiled

// Option configures New.
type Option func(*options)

type options struct {
	authz AuthzCompiler
	prev  *Snapshot
}

// WithAuthz compiles every AuthorizationPolicy of the snapshot with c,
// filling its Compiled field.
func WithAuthz(c AuthzCompiler) Option {
	return func(o *options) { o.authz = c }
}

// compileAuthz fills every policy's Compiled field.
func (s *Snapshot) compileAuthz(c AuthzCompiler) {
	if c == nil {
		return
	}
	// Concurrently, so that one policy that takes its compiler's whole
	// deadline does not make the others wait behind it; the compiler
	// bounds how many run at once.
	var wg sync.WaitGroup
	for _, p := range s.AuthorizationPolicies {
		wg.Go(func() { p.Compiled = c(p) })
	}
	wg.Wait()
}

// AuthorizationPoliciesFor returns the AuthorizationPolicies of the
// workload's namespace that target it, sorted by name: those naming one of
// the services it backs, and those whose selector's labels the workload
// carries.
func (s *Snapshot) AuthorizationPoliciesFor(w *Workload) []*AuthorizationPolicy {
	if w == nil {
		return nil
	}
	var out []*AuthorizationPolicy
	for _, p := range s.AuthorizationPolicies {
		if p.Namespace == w.Namespace && Targets(p, w) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Targets reports whether the policy targets the workload, ignoring
// namespaces: the workload backs one of its services or carries every
// label of its selector.
func Targets(p *AuthorizationPolicy, w *Workload) bool {
	t := p.Spec.Targets
	for _, svc := range t.Services {
		for _, backed := range w.Spec.Services {
			if svc == backed {
				return true
			}
		}
	}
	return t.Selector != nil && len(t.Selector.MatchLabels) > 0 && resource.LabelsMatch(w.Spec.Labels, t.Selector.MatchLabels)
}

// CallerSet is AuthzCompiled.Callers of a compiler's principal list: the
// set when ok, nil (not indexed) when not.
func CallerSet(principals []string, ok bool) map[string]bool {
	if !ok {
		return nil
	}
	set := make(map[string]bool, len(principals))
	for _, p := range principals {
		set[p] = true
	}
	return set
}
