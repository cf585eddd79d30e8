package controlplane

import (
	"encoding/json"
	"sync"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/rbac"
)

// CompileAuthz compiles one AuthorizationPolicy for the mesh snapshot: its
// bundle (what agents load) and, where partial evaluation allows it, the
// Envoy RBAC rules that let a proxy decide without calling its agent.
//
// A policy whose failure mode is allow stays on ext_authz: RBAC cannot
// tell "no rule matched" from "evaluation failed", and would deny where
// the policy asks to allow.
func CompileAuthz(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	mode := p.Spec.Mode
	if mode == "" {
		mode = compile.ModeEnforce
	}
	b, err := compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: mode, Err: err.Error()}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: mode, Err: err.Error()}
	}
	out := &mesh.AuthzCompiled{Revision: b.Revision(), Bundle: raw, Mode: b.Mode(), JWTProviders: meshJWTProviders(b)}
	if b.FailureMode() == compile.FailureAllow {
		out.Reason = "failureMode is allow: RBAC cannot tell a failed evaluation from a denial, so the agent's ext_authz decides"
		return out
	}
	r, err := rbac.Compile(b.Modules(), b.Data(), b.Query(), b.RegoVersion())
	if err != nil {
		out.Reason = "partial evaluation failed: " + err.Error()
		return out
	}
	out.Compiled, out.Reason, out.Location = r.Compiled, r.Reason, r.Location
	if r.Compiled {
		out.RBAC = r.RBAC
	}
	return out
}

// authzCache memoises CompileAuthz per policy and spec, so a push
// recompiles only the policies that changed since the last snapshot.
type authzCache struct {
	// jwks, when set, resolves the key sets policies name by URL before
	// they compile; the resolved keys are part of the memo's key.
	jwks    *JWKSFetcher
	mu      sync.Mutex
	entries map[resource.Key]authzEntry
}

type authzEntry struct {
	spec     string
	compiled *mesh.AuthzCompiled
}

func newAuthzCache() *authzCache {
	return &authzCache{entries: map[resource.Key]authzEntry{}}
}

// compile is a mesh.AuthzCompiler. Compiling runs outside the lock;
// two snapshots built at once may both compile a new policy, which is
// harmless as the result is the same.
func (c *authzCache) compile(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	key := resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: p.Namespace, Name: p.Name}
	p = c.jwks.resolve(p)
	spec, err := json.Marshal(p.Spec)
	if err != nil {
		return CompileAuthz(p)
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.spec == string(spec) {
		return e.compiled
	}
	compiled := CompileAuthz(p)
	c.mu.Lock()
	c.entries[key] = authzEntry{spec: string(spec), compiled: compiled}
	c.mu.Unlock()
	return compiled
}

// prune forgets the policies a snapshot no longer holds.
func (c *authzCache) prune(s *mesh.Snapshot) {
	keep := make(map[resource.Key]bool, len(s.AuthorizationPolicies))
	for _, p := range s.AuthorizationPolicies {
		keep[resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: p.Namespace, Name: p.Name}] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if !keep[k] {
			delete(c.entries, k)
		}
	}
}
