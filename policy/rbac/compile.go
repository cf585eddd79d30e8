// Package rbac compiles an authorization policy written in Rego into an
// Envoy RBAC filter where it can, so that the proxy decides without an
// ext_authz call (zero hops) and proxyless gRPC servers, which have no
// ext_authz, enforce the policy at all.
//
// OPA partially evaluates the policy's query with the whole input document
// unknown: data is folded in, rules are inlined, and what remains is a
// disjunction of queries, each a conjunction of expressions over input.
// Each query becomes one RBAC policy (action ALLOW: any policy that matches
// allows). An expression compiles when it compares one request attribute
// with a constant in a way RBAC can match:
//
//	input.attributes.request.http.method      header :method
//	input.attributes.request.http.path        header :path (query string included, as ext_authz sends it)
//	input.attributes.request.http.host        header :authority
//	input.attributes.request.http.headers[h]  header h (h lower case)
//	input.parsed_path, input.parsed_path[i]   url_path regex (see below)
//	input.attributes.source.principal         authenticated principal_name
//	input.attributes.source.address.socketAddress.address       direct_remote_ip
//	input.attributes.destination.address.socketAddress.address  destination_ip
//	input.attributes.destination.address.socketAddress.portValue destination_port
//	input.attributes.tlsSession.sni           requested_server_name
//
// with ==, != (headers only), startswith, endswith, contains, regex.match,
// net.cidr_contains (addresses), "in" over a constant collection, and not.
//
// parsed_path is the path as Go's url.Parse reads it (so a path starting
// with "//" has a host first), without its query, all leading slashes
// trimmed, split on "/", and percent-decoded; RBAC sees the raw path. The
// url_path regexes reproduce the parsing, trimming and splitting, so the
// two agree on every origin-form path without percent-encoding (Envoy's
// path normalization decodes unreserved characters before either runs).
// On a sidecar both see the path after that normalization, which is the
// path the application acts on (TestNormalizedPaths). A regex whose RE2
// program Envoy would refuse keeps the policy on ext_authz.
//
// Decisions agree with ext_authz under failure mode deny: an undefined
// result denies on both paths. A policy whose failure mode is allow stays
// on ext_authz unless its rule has a default of false, since RBAC has no
// notion of an evaluation failing.
package rbac

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	"embassy.dev/embassy/pkg/resource"
)

// Result is the outcome of compiling one policy.
type Result struct {
	// Compiled is set when RBAC decides exactly as the policy does.
	Compiled bool
	// RBAC is the rules when Compiled: action ALLOW with one policy per
	// partially evaluated query; no policies denies every request.
	RBAC *rbacv3.RBAC
	// Reason says, when not Compiled, which rule (file:line) and which
	// expression kept the policy on ext_authz, and why.
	Reason string
	// Location is file:row:col of that expression (or rule).
	Location string
}

// Compile partially evaluates query over modules and data with the input
// unknown and translates the result into RBAC. regoVersion is "v1" (the
// default when empty) or "v0"; query defaults to data.envoy.authz.allow.
// The error is only for invalid Rego, data or query; a valid policy that
// RBAC cannot express is a Result with Compiled false.
func Compile(modules []resource.RegoModule, data json.RawMessage, query string, regoVersion string) (*Result, error) {
	version := ast.RegoV1
	switch regoVersion {
	case "", "v1":
	case "v0":
		version = ast.RegoV0
	default:
		return nil, fmt.Errorf("regoVersion %q is not v1 or v0", regoVersion)
	}
	if query == "" {
		query = resource.DefaultQuery
	}
	queryRef, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	store, err := dataStore(data)
	if err != nil {
		return nil, err
	}
	p, err := parse(modules, version)
	if err != nil {
		return nil, err
	}
	if r := checkRules(p.compiler, queryRef); r != nil {
		return r, nil
	}
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Store(store),
		rego.SetRegoVersion(version),
		rego.Unknowns([]string{"input"}),
	}
	for _, m := range p.forPartial(queryRef) {
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(opts...).Partial(context.Background())
	if err != nil {
		return nil, err
	}
	return p.translate(pq.Queries, newTranslator(pq.Support)), nil
}

// parseQuery requires a reference into data.
func parseQuery(query string) (ast.Ref, error) {
	body, err := ast.ParseBody(query)
	if err != nil {
		return nil, err
	}
	if len(body) == 1 {
		if t, ok := body[0].Terms.(*ast.Term); ok {
			if ref, ok := t.Value.(ast.Ref); ok && ref.HasPrefix(ast.DefaultRootRef) && len(ref) >= 2 && ref.IsGround() {
				return ref, nil
			}
		}
	}
	return nil, fmt.Errorf("query %q must be a reference into data such as %s", query, resource.DefaultQuery)
}

func dataStore(data json.RawMessage) (storage.Store, error) {
	doc := map[string]any{}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if err := util.UnmarshalJSON(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("data must be a JSON object: %v", err)
		}
	}
	return inmem.NewFromObjectWithOpts(doc, inmem.OptRoundTripOnWrite(false)), nil
}

// parsed is the policy's modules, as written (for partial evaluation and
// for locating rules) and compiled (for finding the query's rules).
type parsed struct {
	modules  []*ast.Module
	compiler *ast.Compiler
}

func parse(modules []resource.RegoModule, version ast.RegoVersion) (*parsed, error) {
	if len(modules) == 0 {
		return nil, errors.New("a policy needs at least one Rego module")
	}
	p := &parsed{}
	byName := make(map[string]*ast.Module, len(modules))
	for _, m := range modules {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Rego, ast.ParserOptions{RegoVersion: version})
		if err != nil {
			return nil, err
		}
		if mod == nil {
			return nil, fmt.Errorf("%s: empty module", m.Name)
		}
		if _, dup := byName[m.Name]; dup {
			return nil, fmt.Errorf("module name %q is used twice", m.Name)
		}
		p.modules = append(p.modules, mod)
		byName[m.Name] = mod.Copy()
	}
	p.compiler = ast.NewCompiler().WithDefaultRegoVersion(version)
	p.compiler.Compile(byName)
	if p.compiler.Failed() {
		return nil, p.compiler.Errors
	}
	return p, nil
}

// forPartial returns the modules with the query rule's "default := false"
// left out: with it the result is false where it would be undefined, and
// both deny, but OPA cannot inline a rule with a default.
func (p *parsed) forPartial(queryRef ast.Ref) []*ast.Module {
	out := make([]*ast.Module, 0, len(p.modules))
	for _, m := range p.modules {
		c := m.Copy()
		rules := c.Rules[:0]
		for _, r := range c.Rules {
			if r.Default && r.Path().Equal(queryRef) {
				continue
			}
			rules = append(rules, r)
		}
		c.Rules = rules
		out = append(out, c)
	}
	return out
}

// checkRules accepts a query whose rules all yield true (a boolean allow),
// with at most a default of false. Anything else has a result RBAC cannot
// reproduce: headers, status and body are ext_authz's, and a default of
// true or a rule yielding false needs "unless" logic across rules.
func checkRules(c *ast.Compiler, queryRef ast.Ref) *Result {
	rules := c.GetRules(queryRef)
	sort.Slice(rules, func(i, j int) bool { return rules[i].Location.Compare(rules[j].Location) < 0 })
	for _, r := range rules {
		path := r.Path()
		fail := func(format string, args ...any) *Result {
			return &Result{
				Reason:   fmt.Sprintf("rule %s (%s) keeps the policy on ext_authz: %s", path, fileLine(r.Location), fmt.Sprintf(format, args...)),
				Location: fileLineCol(r.Location),
			}
		}
		isObject := false
		if r.Head.Value != nil {
			_, isObject = r.Head.Value.Value.(ast.Object)
		}
		switch {
		case !path.Equal(queryRef):
			return fail("the query %s is an object built from rules; RBAC can only allow or deny", queryRef)
		case r.Head.RuleKind() != ast.SingleValue || len(r.Head.Args) > 0:
			return fail("the query's value is a set or a function; RBAC needs a boolean")
		case isObject:
			return fail("it yields the object %s; RBAC can only allow or deny, and an object's other fields (headers, status, body) need ext_authz", r.Head.Value)
		case r.Default:
			if !r.Head.Value.Equal(ast.BooleanTerm(false)) {
				return fail("its default is %s; only a default of false compiles to RBAC (allow only where a rule matches)", r.Head.Value)
			}
		case r.Else != nil:
			return fail("it has an else branch; RBAC has no ordered fallbacks")
		case !r.Head.Value.Equal(ast.BooleanTerm(true)):
			return fail("it yields %s, not true; only rules that allow compile to RBAC", r.Head.Value)
		}
	}
	return nil
}

// translate turns the partially evaluated queries into RBAC, or explains
// the first expression that has no RBAC form.
func (p *parsed) translate(queries []ast.Body, t *translator) *Result {
	policies := make(map[string]*rbacv3.Policy, len(queries))
	for i, q := range queries {
		var perms []*rbacv3.Permission
		var prins []*rbacv3.Principal
		for _, e := range q {
			c, blame, why, ok := t.translateExpr(e, 0)
			if !ok {
				return p.exprResult(blame, why)
			}
			// A condition goes where it can; one both sides can hold (a
			// header, a path) is a permission.
			switch {
			case c.perm != nil:
				perms = append(perms, c.perm)
			case c.prin != nil:
				prins = append(prins, c.prin)
			default:
				return p.exprResult(e, mixedSidesWhy)
			}
		}
		policies[p.policyName(i, q)] = &rbacv3.Policy{
			Permissions: []*rbacv3.Permission{andPermissions(perms)},
			Principals:  []*rbacv3.Principal{andPrincipals(prins)},
		}
	}
	return &Result{
		Compiled: true,
		RBAC:     &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: policies},
	}
}

func (p *parsed) exprResult(e *ast.Expr, why string) *Result {
	text := e.String()
	if e.Location != nil && len(e.Location.Text) > 0 {
		text = string(e.Location.Text)
	}
	rule := "the query"
	if r := p.ruleAt(e.Location); r != nil {
		rule = fmt.Sprintf("rule %s (%s)", r.Path(), fileLine(r.Location))
	}
	return &Result{
		Reason:   fmt.Sprintf("%s keeps the policy on ext_authz: %s at %s: %s", rule, text, fileLineCol(e.Location), why),
		Location: fileLineCol(e.Location),
	}
}

// policyName names a query's RBAC policy after the rule it came from, so
// Envoy's RBAC stats and logs point at the source. The index keeps names
// unique when data expands one rule into several queries.
func (p *parsed) policyName(i int, q ast.Body) string {
	if len(q) == 0 {
		return fmt.Sprintf("%03d:always", i)
	}
	if r := p.ruleAt(q[0].Location); r != nil {
		return fmt.Sprintf("%03d:%s", i, fileLine(r.Location))
	}
	return fmt.Sprintf("%03d:%s", i, fileLine(q[0].Location))
}

// ruleAt is the rule, as written, whose text spans loc.
func (p *parsed) ruleAt(loc *ast.Location) *ast.Rule {
	if loc == nil {
		return nil
	}
	for _, m := range p.modules {
		for _, r := range m.Rules {
			rl := r.Location
			if rl == nil || rl.File != loc.File {
				continue
			}
			last := rl.Row + strings.Count(string(rl.Text), "\n")
			if loc.Row >= rl.Row && loc.Row <= last {
				return r
			}
		}
	}
	return nil
}

func fileLine(loc *ast.Location) string {
	if loc == nil {
		return "?"
	}
	return fmt.Sprintf("%s:%d", loc.File, loc.Row)
}

func fileLineCol(loc *ast.Location) string {
	if loc == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", loc.File, loc.Row, loc.Col)
}
