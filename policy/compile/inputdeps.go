package compile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TimeDependentBuiltins read the clock although OPA does not mark them
// nondeterministic: without an explicit time they check expiry against
// now, so the same input may be allowed now and denied later.
var TimeDependentBuiltins = []string{
	"io.jwt.decode_verify",
	"crypto.x509.parse_and_verify_certificates",
	"crypto.x509.parse_and_verify_certificates_with_options",
}

// InputDeps says what of the input a bundle's decision can depend on,
// found in its compiled modules. A decision is a function of Fields'
// values (and the bundle itself) only when Cacheable is set.
type InputDeps struct {
	// Cacheable is set when the policy is deterministic and reads only
	// named parts of the input.
	Cacheable bool
	// Reason says why a policy is not cacheable, with the location of the
	// first expression that makes it so.
	Reason string
	// Fields are the input paths read, dotted ("parsed_path",
	// "attributes.request.http.method"), sorted, none a prefix of another.
	// A key that is not a plain name is written as a Rego string.
	Fields []string

	paths [][]*ast.Term
}

// InputDeps analyses the bundle's modules. Every reference to input
// counts, reachable from the query or not, with the longest prefix of
// constant keys it starts with: whatever a policy derives from input
// through variables, functions or builtins passes through such a prefix,
// so keying on the values found there is sound. A reference with no
// constant key (input[x], input passed whole to walk, object.get or a
// function) reads the whole input, which is never cached: every request
// differs in it (x-request-id), so a cache could only cost.
func (b *Bundle) InputDeps() *InputDeps {
	c, errs := compileModules(b.w)
	if len(errs) > 0 {
		return &InputDeps{Reason: "does not compile: " + errs.Error()}
	}
	a := &inputAnalysis{}
	for _, name := range sortedModuleNames(c) {
		a.walk(c.Modules[name])
	}
	return a.result()
}

func sortedModuleNames(c *ast.Compiler) []string {
	names := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// inputAnalysis collects input paths and the first reason not to cache.
type inputAnalysis struct {
	paths  [][]*ast.Term
	reason string
}

func (a *inputAnalysis) refuse(loc *ast.Location, format string, args ...any) {
	if a.reason == "" {
		a.reason = at(loc) + fmt.Sprintf(format, args...)
	}
}

func at(loc *ast.Location) string {
	if loc == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d: ", loc.File, loc.Row)
}

func (a *inputAnalysis) walk(x any) {
	ast.WalkExprs(x, func(e *ast.Expr) bool {
		if e.IsCall() {
			a.builtin(e.Operator(), e.Location)
		}
		return false
	})
	ast.WalkTerms(x, func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Call:
			if op, ok := v[0].Value.(ast.Ref); ok {
				a.builtin(op, t.Location)
			}
		case ast.Ref:
			if !v.HasPrefix(ast.InputRootRef) {
				return false
			}
			a.input(v, t.Location)
			for _, k := range v[1:] {
				a.walk(k)
			}
			return true
		case ast.Var:
			if v.Equal(ast.InputRootDocument.Value) {
				a.refuse(t.Location, "reads the whole input")
			}
		}
		return false
	})
}

// builtin refuses a call to a builtin whose answer is not a function of
// its arguments.
func (a *inputAnalysis) builtin(op ast.Ref, loc *ast.Location) {
	name := op.String()
	if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
		a.refuse(loc, "calls %s, whose answer is not a function of its arguments", name)
	} else if slices.Contains(TimeDependentBuiltins, name) {
		a.refuse(loc, "calls %s, whose answer depends on the time", name)
	}
}

// input records the constant prefix of a reference to input.
func (a *inputAnalysis) input(r ast.Ref, loc *ast.Location) {
	n := 1
	for n < len(r) && r[n].IsGround() && isKey(r[n]) {
		n++
	}
	if n == 1 {
		a.refuse(loc, "reads the whole input (%s)", r)
		return
	}
	a.paths = append(a.paths, r[1:n])
}

func isKey(t *ast.Term) bool {
	switch t.Value.(type) {
	case ast.String, ast.Number:
		return true
	}
	return false
}

func (a *inputAnalysis) result() *InputDeps {
	if a.reason != "" {
		return &InputDeps{Reason: a.reason}
	}
	paths := minimalPaths(a.paths)
	d := &InputDeps{Cacheable: true, paths: paths, Fields: make([]string, len(paths))}
	for i, p := range paths {
		d.Fields[i] = dotted(p)
	}
	return d
}

// minimalPaths sorts and dedups paths and drops any path under another:
// the shorter path's value already contains it.
func minimalPaths(paths [][]*ast.Term) [][]*ast.Term {
	sort.Slice(paths, func(i, j int) bool { return ast.Ref(paths[i]).Compare(ast.Ref(paths[j])) < 0 })
	var out [][]*ast.Term
	for _, p := range paths {
		if len(out) > 0 && ast.Ref(p).HasPrefix(ast.Ref(out[len(out)-1])) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func dotted(p []*ast.Term) string {
	parts := make([]string, len(p))
	for i, t := range p {
		if s, ok := t.Value.(ast.String); ok && ast.IsVarCompatibleString(string(s)) {
			parts[i] = string(s)
		} else {
			parts[i] = t.String()
		}
	}
	return strings.Join(parts, ".")
}
