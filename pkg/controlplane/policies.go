package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/rbac"
	"embassy.dev/embassy/policy/sandbox"
)

// compileAuthz compiles one AuthorizationPolicy for the mesh snapshot in
// the Rego sandbox: its bundle (what agents load) and, where partial
// evaluation allows it, the Envoy RBAC rules that let a proxy decide
// without calling its agent. A policy that does not compile, or exceeds
// the sandbox's deadline or memory budget, comes back with Err set: the
// translator then denies every request to its targets (fail closed). The
// error is for what kept the sandbox from answering (a worker that could
// not start, say): unlike a policy's own failure, that is worth trying
// again.
//
// A policy whose failure mode is allow, or that may reach the network,
// stays on ext_authz (see sandbox.CompileResult).
func compileAuthz(ctx context.Context, rego *sandbox.Sandbox, p *mesh.AuthorizationPolicy) (*mesh.AuthzCompiled, error) {
	r, err := rego.Compile(ctx, p.Namespace+"/"+p.Name, p.Spec)
	var limit *sandbox.LimitError
	switch {
	case errors.As(err, &limit):
		return failedAuthz(p, err), nil
	case err != nil:
		return nil, err
	case len(r.Errors) > 0:
		return failedAuthz(p, r.Errors), nil
	}
	var b compile.Bundle
	if err := json.Unmarshal(r.Bundle, &b); err != nil {
		return failedAuthz(p, err), nil
	}
	rules, err := r.Rules()
	if err != nil {
		return failedAuthz(p, err), nil
	}
	return rbac.Model(&b, r.Bundle, r.Compiled, r.Reason, r.Location, rules), nil
}

// failedAuthz is a policy that failed, with its mode so that a dry-run
// policy's failure denies nothing.
func failedAuthz(p *mesh.AuthorizationPolicy, err error) *mesh.AuthzCompiled {
	return &mesh.AuthzCompiled{Mode: p.Mode, Err: fmt.Sprintf("policy %s/%s: %v", p.Namespace, p.Name, err)}
}

// authzCache memoises compileAuthz per policy and spec, so a push
// recompiles only the policies that changed since the last snapshot. A
// policy's own failure is memoised too: one that ran out of time or
// memory is not retried on every push (each retry would cost the whole
// deadline) but when its spec changes or embassy-cp restarts. A sandbox
// that could not answer is not memoised: the next push tries again.
type authzCache struct {
	// jwks, when set, resolves the key sets policies name by URL before
	// they compile; the resolved keys are part of the memo's key.
	jwks *JWKSFetcher
	// rego runs every compile, and reads the Rego of the API's reads
	// (policy eval, /v1/check, the audit) in a pool of its own; events
	// and log, when set, hear of the policies that fail.
	rego    *sandbox.Sandbox
	reads   *sandbox.Sandbox
	events  events.Publisher
	log     hclog.Logger
	mu      sync.Mutex
	entries map[resource.Key]authzEntry
}

type authzEntry struct {
	spec     string
	compiled *mesh.AuthzCompiled
}

func newAuthzCache(rego *sandbox.Sandbox) *authzCache {
	return &authzCache{rego: rego, log: hclog.NewNullLogger(), entries: map[resource.Key]authzEntry{}}
}

// setupRego starts the Rego sandboxes with the configured limits and
// hands the policy compiler its event bus and logger.
func (c *ControlPlane) setupRego() error {
	rego, err := sandbox.New(c.cfg.Rego, sandbox.CompileWorkers)
	if err != nil {
		return err
	}
	reads, err := sandbox.New(c.cfg.Rego, sandbox.ReadWorkers)
	if err != nil {
		return err
	}
	c.authz.rego, c.authz.reads, c.authz.events, c.authz.log = rego, reads, c.obs.events, c.log.Named("authz")
	l := rego.Limits()
	c.log.Info("policy Rego runs in sandbox processes", "timeout", l.Timeout, "memory_mib", l.Memory>>20,
		"workers", sandbox.CompileWorkers+sandbox.ReadWorkers)
	return nil
}

// compile is a mesh.AuthzCompiler. Compiling runs outside the lock;
// two snapshots built at once may both compile a new policy, which is
// harmless as the result is the same.
func (c *authzCache) compile(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	key := resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: p.Namespace, Name: p.Name}
	p = c.jwks.resolve(p)
	spec, err := json.Marshal(p.Spec)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: p.Mode, Err: err.Error()}
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.spec == string(spec) {
		return e.compiled
	}
	compiled, err := compileAuthz(context.Background(), c.rego, p)
	if err != nil {
		compiled = failedAuthz(p, err)
		c.reportFailed(key, compiled.Err)
		return compiled
	}
	if compiled.Err != "" {
		c.reportFailed(key, compiled.Err)
	}
	c.mu.Lock()
	c.entries[key] = authzEntry{spec: string(spec), compiled: compiled}
	c.mu.Unlock()
	return compiled
}

// reportFailed tells the operator a stored policy failed: its targets
// now deny every request until it is fixed or deleted.
func (c *authzCache) reportFailed(key resource.Key, msg string) {
	c.log.Warn("authorization policy failed; its targets deny every request", "policy", key.String(), "error", msg)
	if c.events != nil {
		c.events.Publish(events.Event{
			Kind: events.KindPolicy, Resources: []string{key.String()},
			Message: "failed: " + msg + "; every request to its targets is denied until it is fixed or deleted",
		})
	}
}

// check compiles a policy at apply, in the sandbox, so the apply is
// refused when the policy's Rego is wrong or exceeds a limit (the error
// then names the limit), before anything is stored.
func (c *authzCache) check(ctx context.Context, name string, spec *resource.AuthorizationPolicySpec) error {
	r, err := c.rego.Compile(ctx, name, spec)
	if err != nil {
		return fmt.Errorf("policy %s: %w; nothing was applied", name, err)
	}
	if len(r.Errors) > 0 {
		return r.Errors
	}
	return nil
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
