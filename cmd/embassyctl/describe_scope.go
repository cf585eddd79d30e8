package main

import (
	"context"
	"fmt"
	"io"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/rbac"
)

// scopedSnapshot is the mesh of the stored resources. Under auto scoping
// its policies are compiled here the way the control plane compiled them:
// a policy the control plane enforces with RBAC is partially evaluated
// again (the same Rego gives the same rules) for its caller analysis, and
// any other keeps the control plane's reason, so describe explains what
// the control plane decided rather than deciding again.
func scopedSnapshot(ctx context.Context, c *client.Client, rev int64, all []*resource.Resource) (*mesh.Snapshot, error) {
	snap := mesh.New(rev, all)
	if snap.Mesh.ConfigScoping != resource.ScopingAuto || len(snap.AuthorizationPolicies) == 0 {
		return snap, nil
	}
	res, err := c.Policies(ctx, "")
	if err != nil {
		return nil, err
	}
	statuses := map[string]apiwire.PolicyStatus{}
	for _, st := range res.Policies {
		statuses[st.Namespace+"/"+st.Name] = st
	}
	return mesh.New(rev, all, mesh.WithAuthz(asCompiled(statuses))), nil
}

// asCompiled is the AuthzCompiler of scopedSnapshot.
func asCompiled(statuses map[string]apiwire.PolicyStatus) mesh.AuthzCompiler {
	return func(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
		st, ok := statuses[p.Namespace+"/"+p.Name]
		switch {
		case !ok:
			return &mesh.AuthzCompiled{Reason: "the control plane has not compiled it yet"}
		case st.Error != "":
			return &mesh.AuthzCompiled{Err: st.Error}
		case st.Enforcement != apiwire.EnforcedByRBAC:
			return &mesh.AuthzCompiled{Reason: st.Reason}
		}
		b, err := compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
		if err != nil {
			return &mesh.AuthzCompiled{Err: err.Error()}
		}
		r, err := rbac.Compile(b.Modules(), b.Data(), b.Query(), b.RegoVersion())
		if err != nil || !r.Compiled {
			return &mesh.AuthzCompiled{Reason: "it did not compile to RBAC here"}
		}
		rules := r.RBAC
		return &mesh.AuthzCompiled{Compiled: true, RBAC: rules, MayAllow: func(id string) bool { return rbac.MayAllow(rules, id) },
			Callers: mesh.CallerSet(rbac.AllowedPrincipals(rules))}
	}
}

// describeScope says, for every service, whether the proxy of workload
// wl (nil when it names none) is sent it and why.
func describeScope(w io.Writer, snap *mesh.Snapshot, wl *mesh.Workload) {
	v := snap.Visible(wl)
	decisions := v.Decisions()
	sent := 0
	for _, d := range decisions {
		if d.Visible {
			sent++
		}
	}
	fmt.Fprintf(w, "Scoping:    %s (Mesh spec.configScoping): sent %d of %d services\n", v.Mode, sent, len(decisions))
	for _, d := range decisions {
		mark := "-"
		if d.Visible {
			mark = "+"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, d.Service, d.Reason)
	}
}
