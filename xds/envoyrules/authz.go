package envoyrules

import (
	"fmt"
	"maps"
	"slices"

	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/proto"
)

// jwtProviderRule: every provider a JWT requirement names must be
// configured in the same filter.
var jwtProviderRule = Rule{
	ID:         "jwt_authn.provider-configured",
	Source:     "source/extensions/filters/http/jwt_authn/verifier.cc",
	EnvoyError: "Required provider ['{}'] is not configured.",
	message:    jwtProviders,
}

func jwtProviders(m proto.Message) []finding {
	cfg, ok := m.(*jwt.JwtAuthentication)
	if !ok {
		return nil
	}
	var out []finding
	check := func(field string, req *jwt.JwtRequirement) {
		for _, name := range requiredProviders(req) {
			if _, ok := cfg.GetProviders()[name]; !ok {
				out = append(out, finding{field, fmt.Sprintf("Required provider ['%s'] is not configured.", name)})
			}
		}
	}
	for i, r := range cfg.GetRules() {
		check(fmt.Sprintf(".rules[%d].requires", i), r.GetRequires())
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.GetRequirementMap())) {
		check(fmt.Sprintf(".requirement_map[%q]", k), cfg.GetRequirementMap()[k])
	}
	return out
}

// requiredProviders lists the provider names a requirement uses, however
// deeply nested in requires_any and requires_all.
func requiredProviders(req *jwt.JwtRequirement) []string {
	switch {
	case req.GetProviderName() != "":
		return []string{req.GetProviderName()}
	case req.GetProviderAndAudiences() != nil:
		return []string{req.GetProviderAndAudiences().GetProviderName()}
	}
	var out []string
	for _, r := range req.GetRequiresAny().GetRequirements() {
		out = append(out, requiredProviders(r)...)
	}
	for _, r := range req.GetRequiresAll().GetRequirements() {
		out = append(out, requiredProviders(r)...)
	}
	return out
}
