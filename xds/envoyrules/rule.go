package envoyrules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// Rule is one check Envoy makes when it loads configuration.
type Rule struct {
	// ID names the rule in violations and in docs/envoy.md.
	ID string
	// Source is the file of Envoy's source tree the rule mirrors.
	Source string
	// EnvoyError is the error Envoy gives, with {} where it formats a
	// value; for an Embassy rule, the checker's own text.
	EnvoyError string
	// Embassy marks a rule Envoy does not enforce: Envoy loads what it
	// refuses and then misbehaves, so Source is where that behaviour is.
	Embassy bool
	// message checks one message found anywhere in a resource, Anys
	// unpacked; set checks a node's whole set. A rule has one of them.
	message func(m proto.Message) []finding
	set     func(r *translate.Resources) []Violation
}

// finding is a violation inside one message: field is the path below the
// message ("" for the message itself), text Envoy's error with its values.
type finding struct{ field, text string }

// Violation is a resource that breaks a Rule.
type Violation struct {
	// Type and Name name the resource: "Listener", "inbound|8080".
	Type, Name string
	// Path is the field inside the resource, Anys shown with their type.
	Path string
	// Rule is the ID of the broken Rule; Envoy is the error Envoy would
	// give.
	Rule, Envoy string
}

// String reads as one line of a refusal.
func (v Violation) String() string {
	return fmt.Sprintf("%s %s at %s: [%s] %s", v.Type, v.Name, v.Path, v.Rule, v.Envoy)
}

// Violations is everything Check found.
type Violations []Violation

// Err is nil when there is no violation, else one error listing them all.
func (vs Violations) Err() error {
	if len(vs) == 0 {
		return nil
	}
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return errors.New("Envoy would refuse this configuration:\n" + strings.Join(lines, "\n"))
}

// rules are every rule, in the order Check runs them.
var rules = []Rule{
	listenerAddressRule, selfLoopRule, filterChainMatchRule, networkTerminalRule,
	httpTerminalRule, weightedTotalZeroRule, weightedTotalOverflowRule,
	retryBackoffRule, headerFormatRule, edsConfigRule, grpcHealthCheckRule,
	configSourceClusterRule, jwtProviderRule, fillIntervalRule,
	regexProgramSizeRule, scopeRouteNameRule, scopeKeyConflictRule,
	scopeExtractorRule, scopeFragmentsRule,
}

// Rules lists every rule Check runs, in the order it runs them.
func Rules() []Rule { return slices.Clone(rules) }

// Check runs every rule over the resources served to one node and returns
// what breaks them, in a stable order.
func Check(r *translate.Resources) Violations {
	if r == nil {
		return nil
	}
	var out Violations
	validate.Each(r, func(typ, name string, m proto.Message) {
		out = append(out, CheckResource(typ, name, m)...)
	})
	return append(out, CheckSet(r)...)
}

// CheckResource runs the rules that look at one resource alone (typ is
// "Listener", "RouteConfiguration", "ScopedRouteConfiguration", "Cluster"
// or "ClusterLoadAssignment").
// Its result depends on the resource's content only, so a caller may keep
// it while the content does not change.
func CheckResource(typ, name string, m proto.Message) Violations {
	return checkMessages(typ, name, m)
}

// CheckSet runs the rules that look across a node's resources. They read
// its Listeners, Clusters and ScopedRoutes only, so a caller may pass just
// those.
func CheckSet(r *translate.Resources) Violations {
	var out Violations
	for _, rule := range rules {
		if rule.set != nil {
			out = append(out, rule.set(r)...)
		}
	}
	return out
}

// checkMessages runs the message rules over one resource and everything
// packed inside it. An Any that cannot be unpacked is package validate's
// to report.
func checkMessages(typ, name string, root proto.Message) Violations {
	var out Violations
	validate.Walk("", root, Visitor(typ, name, &out))
	return out
}

// Visitor runs the rules that look at one resource alone on each message
// of a walk another checker makes of resource typ/name (see
// validate.Resource), adding what breaks them to out; path is from the
// resource. CheckResource is the same with a walk of its own.
func Visitor(typ, name string, out *Violations) func(path string, m proto.Message) {
	return func(path string, m proto.Message) {
		for _, rule := range rules {
			if rule.message == nil {
				continue
			}
			for _, f := range rule.message(m) {
				*out = append(*out, Violation{Type: typ, Name: name, Path: join(path, f.field), Rule: rule.ID, Envoy: f.text})
			}
		}
	}
}

// join appends a field to a path; the root's path is ".".
func join(path, field string) string {
	p := path + field
	if p == "" {
		return "."
	}
	return p
}
