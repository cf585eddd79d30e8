package meshtest

import (
	"encoding/json"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/rbac"
)

// CompileAuthz is a mesh.AuthzCompiler that compiles in process, as the
// control plane's sandbox does: the bundle, and RBAC with its caller
// analysis where partial evaluation allows.
func CompileAuthz(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	b, err := compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: p.Mode, Err: err.Error()}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: p.Mode, Err: err.Error()}
	}
	r, err := rbac.Compile(b.Modules(), b.Data(), b.Query(), b.RegoVersion())
	if err != nil {
		out := rbac.Model(b, raw, false, "", "", nil)
		out.Reason = err.Error()
		return out
	}
	return rbac.Model(b, raw, r.Compiled, r.Reason, r.Location, r.RBAC)
}
