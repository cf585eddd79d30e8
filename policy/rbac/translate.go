package rbac

import (
	"fmt"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

// maxSupportDepth bounds how deeply support rules may refer to each
// other; partial evaluation never nests them deeper than a policy's rules.
const maxSupportDepth = 32

// translator turns partially evaluated queries into conditions. support
// holds the rules partial evaluation could not inline (such as the target
// of a "not" over a rule with several bodies), by path.
type translator struct {
	support map[string][]*ast.Rule
}

func newTranslator(support []*ast.Module) *translator {
	t := &translator{support: map[string][]*ast.Rule{}}
	for _, m := range support {
		for _, r := range m.Rules {
			key := r.Path().String()
			t.support[key] = append(t.support[key], r)
		}
	}
	return t
}

// translateExpr turns one expression of a partially evaluated query into
// a condition, or says why it cannot be one. On failure it also returns
// the expression to blame, which may sit in a support rule.
func (t *translator) translateExpr(e *ast.Expr, depth int) (cond, *ast.Expr, string, bool) {
	if len(e.With) > 0 {
		return cond{}, e, "a with modifier changes data or input per evaluation, which RBAC cannot express", false
	}
	if ref, ok := supportRef(e); ok {
		c, blame, why, ok := t.supportCond(ref, e, depth)
		if ok && e.Negated {
			c = negate(c)
		}
		return c, blame, why, ok
	}
	c, why, ok := translatePositive(e)
	if !ok {
		return c, e, why, false
	}
	if e.Negated {
		c = negate(c)
	}
	return c, nil, "", true
}

// supportRef is the reference of an expression that only tests a support
// rule.
func supportRef(e *ast.Expr) (ast.Ref, bool) {
	t, ok := e.Terms.(*ast.Term)
	if !ok {
		return nil, false
	}
	ref, ok := t.Value.(ast.Ref)
	if !ok || !ref.HasPrefix(ast.DefaultRootRef) {
		return nil, false
	}
	return ref, true
}

// supportCond is "some body of the support rule holds": the rule is true
// where one of its bodies holds and undefined or false elsewhere.
func (t *translator) supportCond(ref ast.Ref, e *ast.Expr, depth int) (cond, *ast.Expr, string, bool) {
	rules := t.support[ref.String()]
	if len(rules) == 0 {
		return cond{}, e, fmt.Sprintf("%s is a document RBAC cannot see", ref), false
	}
	if depth >= maxSupportDepth {
		return cond{}, e, fmt.Sprintf("%s nests rules too deeply", ref), false
	}
	var bodies []cond
	for _, r := range rules {
		switch {
		case r.Default && r.Head.Value.Equal(ast.BooleanTerm(false)):
			continue
		case r.Default || r.Else != nil || len(r.Head.Args) > 0 || r.Head.Value == nil || !r.Head.Value.Equal(ast.BooleanTerm(true)):
			return cond{}, e, fmt.Sprintf("it depends on a rule yielding %s (with a default, an else branch or arguments), which must be evaluated per request", r.Head.Value), false
		}
		var conds []cond
		for _, be := range r.Body {
			c, blame, why, ok := t.translateExpr(be, depth+1)
			if !ok {
				return cond{}, blame, why, false
			}
			conds = append(conds, c)
		}
		c := andAll(conds)
		if c.perm == nil && c.prin == nil {
			return cond{}, e, mixedSidesWhy, false
		}
		bodies = append(bodies, c)
	}
	c := or(bodies)
	if c.perm == nil && c.prin == nil {
		return cond{}, e, mixedSidesWhy, false
	}
	return c, nil, "", true
}

// mixedSidesWhy explains a condition that is neither a Permission nor a
// Principal.
const mixedSidesWhy = "it combines, under one \"not\" or \"or\", attributes only a permission can match (ports, SNI, destination) with attributes only a principal can match (identities, source addresses); an RBAC policy can only AND the two"

func translatePositive(e *ast.Expr) (cond, string, bool) {
	if why, found := nestedCallWhy(e); found {
		return cond{}, why, false
	}
	if t, ok := e.Terms.(*ast.Term); ok {
		// A bare reference holds when it is defined and not false: for a
		// header (always a string) that is "the header is sent".
		f, why, ok := fieldOf(t)
		if ok && f.kind == kindHeader {
			return presentCond(f), "", true
		}
		if why == "" {
			why = fmt.Sprintf("%s is tested for being defined, which RBAC can only do for headers", t)
		}
		return cond{}, why, false
	}
	if !e.IsCall() {
		return cond{}, "the expression is not a comparison RBAC can express", false
	}
	name := e.Operator().String()
	args := e.Operands()
	switch name {
	case ast.Equality.Name, ast.Equal.Name:
		return compare(args, opEq)
	case ast.NotEqual.Name:
		return notEqual(args)
	case ast.StartsWith.Name:
		return fieldFirst(args, opPrefix)
	case ast.EndsWith.Name:
		return fieldFirst(args, opSuffix)
	case ast.Contains.Name:
		return fieldFirst(args, opContains)
	case ast.RegexMatch.Name:
		return constFirst(args, opRegex)
	case ast.NetCIDRContains.Name:
		return constFirst(args, opCIDR)
	case ast.Member.Name:
		return member(args)
	}
	return cond{}, builtinWhy(name, args), false
}

// compare handles a == b with one side an attribute and the other a
// constant, in either order.
func compare(args []*ast.Term, o op) (cond, string, bool) {
	if len(args) != 2 {
		return cond{}, "unexpected arity", false
	}
	fa, whyA, okA := fieldOf(args[0])
	fb, whyB, okB := fieldOf(args[1])
	switch {
	case okA && okB:
		return cond{}, fmt.Sprintf("%s is compared with %s; RBAC compares request attributes only with constants", fa.ref, fb.ref), false
	case okA && ast.IsConstant(args[1].Value):
		return match(fa, o, args[1].Value)
	case okB && ast.IsConstant(args[0].Value):
		return match(fb, o, args[0].Value)
	}
	return cond{}, firstWhy(args, whyA, whyB), false
}

// notEqual is a != b: the attribute is there and differs. Only headers can
// say "is there" in RBAC, so other attributes stay on ext_authz.
func notEqual(args []*ast.Term) (cond, string, bool) {
	c, why, ok := compare(args, opEq)
	if !ok {
		return c, why, ok
	}
	f, _, isField := fieldOf(args[0])
	if !isField {
		f, _, _ = fieldOf(args[1])
	}
	if f.kind != kindHeader {
		return cond{}, fmt.Sprintf("%s != ... also requires %s to be present, which RBAC can only test for headers; write not ... == ... instead", f.ref, f.ref), false
	}
	return and(presentCond(f), negate(c)), "", true
}

// fieldFirst handles builtin(attribute, constant).
func fieldFirst(args []*ast.Term, o op) (cond, string, bool) {
	f, why, ok := fieldOf(args[0])
	if !ok || !ast.IsConstant(args[1].Value) {
		return cond{}, firstWhy(args, why, ""), false
	}
	return match(f, o, args[1].Value)
}

// constFirst handles builtin(constant, attribute).
func constFirst(args []*ast.Term, o op) (cond, string, bool) {
	f, why, ok := fieldOf(args[1])
	if !ok || !ast.IsConstant(args[0].Value) {
		return cond{}, firstWhy(args, why, ""), false
	}
	return match(f, o, args[0].Value)
}

// member is "attribute in collection": one of the collection's values.
func member(args []*ast.Term) (cond, string, bool) {
	f, why, ok := fieldOf(args[0])
	if !ok || !ast.IsConstant(args[1].Value) {
		return cond{}, firstWhy(args, why, ""), false
	}
	var elems []*ast.Term
	switch coll := args[1].Value.(type) {
	case *ast.Array:
		coll.Foreach(func(t *ast.Term) { elems = append(elems, t) })
	case ast.Set:
		elems = coll.Slice()
	case ast.Object:
		coll.Foreach(func(_, v *ast.Term) { elems = append(elems, v) })
	default:
		return cond{}, fmt.Sprintf("%s is tested for membership in %s, which is not a collection", f.ref, args[1]), false
	}
	conds := make([]cond, 0, len(elems))
	for _, t := range elems {
		c, why, ok := match(f, opEq, t.Value)
		if !ok {
			return cond{}, why, false
		}
		conds = append(conds, c)
	}
	return or(conds), "", true
}

// firstWhy is the reason from the first argument that had one, else a
// generic one naming the arguments.
func firstWhy(args []*ast.Term, whys ...string) string {
	for _, w := range whys {
		if w != "" {
			return w
		}
	}
	for _, a := range args {
		if _, why, _ := fieldOf(a); why != "" {
			return why
		}
		if ref, ok := a.Value.(ast.Ref); ok && !ref.HasPrefix(ast.InputRootRef) {
			return fmt.Sprintf("%s is computed per request from a value RBAC cannot see", a)
		}
	}
	return "the expression does not compare one request attribute with a constant"
}

// builtinWhy explains why a builtin stays on ext_authz.
func builtinWhy(name string, args []*ast.Term) string {
	switch {
	case strings.HasPrefix(name, "io.jwt."):
		return fmt.Sprintf("%s verifies or decodes a token per request; RBAC has no JWT matcher (Envoy's jwt_authn filter is separate)", name)
	case name == "http.send":
		return "http.send calls out per request; RBAC cannot"
	case strings.HasPrefix(name, "time."):
		return fmt.Sprintf("%s depends on the time of the request; RBAC has no clock", name)
	case strings.HasPrefix(name, "crypto.") || strings.HasPrefix(name, "base64") || strings.HasPrefix(name, "json.") || strings.HasPrefix(name, "yaml."):
		return fmt.Sprintf("%s decodes a value per request; RBAC only compares attributes as sent", name)
	}
	for _, a := range args {
		if _, why, ok := fieldOf(a); !ok && why != "" {
			return why
		}
	}
	return fmt.Sprintf("builtin %s has no RBAC equivalent", name)
}

// nestedCallWhy finds a builtin call nested inside e's operands: its
// value is computed per request, so nothing about it is a constant RBAC
// can compare with.
func nestedCallWhy(e *ast.Expr) (string, bool) {
	var why string
	visit := func(x any) bool {
		if why != "" {
			return true
		}
		if call, ok := x.(ast.Call); ok {
			var args []*ast.Term
			if len(call) > 1 {
				args = call[1:]
			}
			why = builtinWhy(call[0].String(), args)
			return true
		}
		return false
	}
	if terms, ok := e.Terms.([]*ast.Term); ok {
		for _, t := range terms[1:] {
			ast.NewGenericVisitor(visit).Walk(t)
		}
	}
	return why, why != ""
}

// andAll holds when every one of cs does. Each side exists only when
// every condition has it.
func andAll(cs []cond) cond {
	var perms []*rbacv3.Permission
	var prins []*rbacv3.Principal
	for _, c := range cs {
		perms = append(perms, c.perm)
		prins = append(prins, c.prin)
	}
	var out cond
	if allSet(perms) {
		out.perm = andPermissions(perms)
	}
	if allSet(prins) {
		out.prin = andPrincipals(prins)
	}
	return out
}

// negate is "not c".
func negate(c cond) cond {
	var out cond
	if c.perm != nil {
		out.perm = &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: c.perm}}
	}
	if c.prin != nil {
		out.prin = &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: c.prin}}
	}
	return out
}

// or holds when any of cs does. An empty or never holds. Each side exists
// only when every condition has it.
func or(cs []cond) cond {
	if len(cs) == 0 {
		return negate(cond{perm: anyPermission(), prin: anyPrincipal()})
	}
	if len(cs) == 1 {
		return cs[0]
	}
	var perms []*rbacv3.Permission
	var prins []*rbacv3.Principal
	for _, c := range cs {
		perms = append(perms, c.perm)
		prins = append(prins, c.prin)
	}
	var out cond
	if allSet(perms) {
		out.perm = &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: perms}}}
	}
	if allSet(prins) {
		out.prin = &rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: prins}}}
	}
	return out
}

// and holds when both do.
func and(a, b cond) cond { return andAll([]cond{a, b}) }

func allSet[T any](xs []*T) bool {
	for _, x := range xs {
		if x == nil {
			return false
		}
	}
	return true
}

func anyPermission() *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}
}

func anyPrincipal() *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}
}

// andPermissions is every one of ps: any for none, the one itself for
// one, nested and_rules spliced in.
func andPermissions(in []*rbacv3.Permission) *rbacv3.Permission {
	var ps []*rbacv3.Permission
	for _, p := range in {
		if and, ok := p.GetRule().(*rbacv3.Permission_AndRules); ok {
			ps = append(ps, and.AndRules.GetRules()...)
			continue
		}
		ps = append(ps, p)
	}
	switch len(ps) {
	case 0:
		return anyPermission()
	case 1:
		return ps[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: ps}}}
}

// andPrincipals is every one of ps: any for none, the one itself for
// one, nested and_ids spliced in.
func andPrincipals(in []*rbacv3.Principal) *rbacv3.Principal {
	var ps []*rbacv3.Principal
	for _, p := range in {
		if and, ok := p.GetIdentifier().(*rbacv3.Principal_AndIds); ok {
			ps = append(ps, and.AndIds.GetIds()...)
			continue
		}
		ps = append(ps, p)
	}
	switch len(ps) {
	case 0:
		return anyPrincipal()
	case 1:
		return ps[0]
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ps}}}
}
