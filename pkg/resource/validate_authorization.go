package resource

import (
	"bytes"
	"encoding/json"
	"strings"
)

// authorizationPolicy checks an AuthorizationPolicySpec's shape. Whether
// its Rego compiles is checked where policies are compiled.
func (v *validator) authorizationPolicy(s *AuthorizationPolicySpec) {
	t := s.Targets
	if len(t.Services) == 0 && (t.Selector == nil || len(t.Selector.MatchLabels) == 0) {
		v.errorf("spec.targets", "name at least one service or a selector with at least one label")
	}
	for i, name := range t.Services {
		v.dnsLabel(index("spec.targets.services", i), name, true)
	}
	if len(s.Modules) == 0 {
		v.errorf("spec.modules", "at least one Rego module is required")
	}
	names := map[string]int{}
	for i, m := range s.Modules {
		path := index("spec.modules", i)
		if !strings.HasSuffix(m.Name, ".rego") || m.Name == ".rego" {
			v.errorf(path+".name", "must be a file name ending in .rego, got %q", m.Name)
		} else if j, dup := names[m.Name]; dup {
			v.errorf(path+".name", "duplicate module name %q (also spec.modules[%d])", m.Name, j)
		} else {
			names[m.Name] = i
		}
		if strings.TrimSpace(m.Rego) == "" {
			v.errorf(path+".rego", "required: the module's Rego source")
		}
	}
	if d := bytes.TrimSpace(s.Data); len(d) > 0 && string(d) != "null" {
		var obj map[string]any
		if d[0] != '{' || json.Unmarshal(d, &obj) != nil {
			v.errorf("spec.data", "must be a JSON object (a YAML mapping), available to the policy as data.*")
		}
	}
	if s.Query != "" && !strings.HasPrefix(s.Query, "data.") {
		v.errorf("spec.query", "must start with \"data.\", e.g. %s, got %q", DefaultQuery, s.Query)
	}
	v.oneOf("spec.mode", s.Mode, false, PolicyEnforce, PolicyDryRun)
	v.oneOf("spec.failureMode", s.FailureMode, false, FailureDeny, FailureAllow)
	v.oneOf("spec.regoVersion", s.RegoVersion, false, "v1", "v0")
	v.jwtProviders(s.JWTProviders)
}

// The values of an AuthorizationPolicy's spec.mode and spec.failureMode;
// an empty field means the first of each. The model and the policy engine
// name them after these.
const (
	PolicyEnforce = "enforce"
	PolicyDryRun  = "dry-run"
	FailureDeny   = "deny"
	FailureAllow  = "allow"
)
