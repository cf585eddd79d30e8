package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// NetworkBuiltins reach the network when evaluated: an HTTP request, a DNS
// lookup. A policy may call them only with spec.allowNetwork, and then
// only the agent beside the workload evaluates them; the control plane
// never does (see Bundle.AllowNetwork).
var NetworkBuiltins = []string{"http.send", "net.lookup_ip_addr"}

// ForbiddenBuiltins are never available to a policy: opa.runtime hands a
// policy the evaluating process's environment and configuration, which in
// embassy-cp or an agent hold paths and settings no policy needs.
var ForbiddenBuiltins = []string{"opa.runtime"}

// capabilities is the OPA capabilities set policies compile against: every
// builtin of this OPA except ForbiddenBuiltins and, unless allowNetwork,
// NetworkBuiltins. A call to a missing builtin fails to compile, so an
// excluded builtin can never run, whatever input a policy is given. Without
// allowNetwork, AllowNet is empty too: no host may be reached at all, not
// even by the compiler fetching a remote schema; with it, AllowNet is
// unset, which OPA reads as any host (http.send checks it).
func capabilities(allowNetwork bool) *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	builtins := make([]*ast.Builtin, 0, len(c.Builtins))
	for _, b := range c.Builtins {
		if excluded(b.Name, allowNetwork) {
			continue
		}
		builtins = append(builtins, b)
	}
	c.Builtins = builtins
	if !allowNetwork {
		c.AllowNet = []string{}
	}
	return c
}

func excluded(name string, allowNetwork bool) bool {
	return slices.Contains(ForbiddenBuiltins, name) || (!allowNetwork && slices.Contains(NetworkBuiltins, name))
}

// explainExcluded rewrites OPA's "undefined function X" for an excluded
// builtin into what the author can do about it, keeping the location.
func explainExcluded(errs Errors) {
	for _, e := range errs {
		name, ok := strings.CutPrefix(e.Message, "undefined function ")
		if !ok {
			continue
		}
		switch {
		case slices.Contains(ForbiddenBuiltins, name):
			e.Code = CodeForbiddenBuiltin
			e.Message = fmt.Sprintf("builtin %s is not available to authorization policies: it exposes the evaluating process's environment", name)
		case slices.Contains(NetworkBuiltins, name):
			e.Code = CodeForbiddenBuiltin
			e.Message = fmt.Sprintf("builtin %s reaches the network and is not available unless the policy sets spec.allowNetwork: true (then only the workload's agent evaluates it; see docs/authorization.md)", name)
		}
	}
}
