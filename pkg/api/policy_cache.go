package api

import (
	"encoding/json"
	"strings"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/policy/compile"
)

// inputDeps analyses the bundle the agents receive (or, on a server that
// does not keep bundles, the policy compiled here) for the decision
// cache; nil when neither is at hand.
func inputDeps(p *mesh.AuthorizationPolicy, c *mesh.AuthzCompiled) *compile.InputDeps {
	if c.Err != "" {
		return nil
	}
	var b compile.Bundle
	if len(c.Bundle) > 0 {
		if err := json.Unmarshal(c.Bundle, &b); err != nil {
			return nil
		}
		return b.InputDeps()
	}
	compiled, err := compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
	if err != nil {
		return nil
	}
	return compiled.InputDeps()
}

// cacheText is the line of `embassyctl policy explain` about the agent's
// decision cache.
func cacheText(d *compile.InputDeps) string {
	if d.Cacheable {
		if len(d.Fields) == 0 {
			return "decision cache: cacheable; the decision reads no input, so one entry answers every request\n"
		}
		return "decision cache: cacheable, keyed on input." + strings.Join(d.Fields, ", input.") + "\n"
	}
	return "decision cache: not cacheable: " + d.Reason + "\n"
}
