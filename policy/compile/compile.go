// Package compile turns an AuthorizationPolicy into a Bundle: its Rego is
// parsed and compiled with OPA, its data checked, and its query checked to
// name a rule, so that nothing an agent receives can fail to load for a
// reason the apply could have caught. It also runs Rego tests for
// `embassyctl policy test` and reads policy directories.
package compile

import (
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Compile checks spec and returns its Bundle. On failure it returns nil and
// Errors listing every problem found, each with OPA's code, message and
// location verbatim; parse errors of every module are reported together.
func Compile(name string, spec *resource.AuthorizationPolicySpec) (*Bundle, error) {
	w, errs := normalize(name, spec)
	if len(errs) > 0 {
		return nil, errs
	}
	compiler, errs := compileModules(w)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := checkQuery(compiler, w.Query); len(errs) > 0 {
		return nil, errs
	}
	v, err := verifier(w.JWTProviders)
	if err != nil {
		return nil, Errors{{File: "jwtProviders", Code: CodeSpec, Message: err.Error()}}
	}
	w.Revision = revision(w)
	b := &Bundle{w: w, jwt: v}
	// Preparing catches what only shows with data in place, such as a rule
	// and a data document claiming the same path.
	if _, err := b.Prepare(); err != nil {
		return nil, err
	}
	return b, nil
}

// normalize fills defaults and checks the fields that are not Rego.
func normalize(name string, spec *resource.AuthorizationPolicySpec) (wire, Errors) {
	var errs Errors
	specErr := func(field, format string, args ...any) {
		errs = append(errs, &Error{File: field, Code: CodeSpec, Message: fmt.Sprintf(format, args...)})
	}
	w := wire{
		Name:         name,
		Modules:      append([]resource.RegoModule(nil), spec.Modules...),
		Query:        spec.Query,
		Mode:         mesh.PolicyMode(spec),
		FailureMode:  mesh.PolicyFailureMode(spec),
		RegoVersion:  spec.RegoVersion,
		AllowNetwork: spec.AllowNetwork,
	}
	if w.Query == "" {
		w.Query = resource.DefaultQuery
	}
	if w.RegoVersion == "" {
		w.RegoVersion = RegoV1
	}
	if w.Mode != ModeEnforce && w.Mode != ModeDryRun {
		specErr("mode", "mode %q is not %s or %s", w.Mode, ModeEnforce, ModeDryRun)
	}
	if w.FailureMode != FailureDeny && w.FailureMode != FailureAllow {
		specErr("failureMode", "failureMode %q is not %s or %s", w.FailureMode, FailureDeny, FailureAllow)
	}
	if w.RegoVersion != RegoV1 && w.RegoVersion != RegoV0 {
		specErr("regoVersion", "regoVersion %q is not %s or %s", w.RegoVersion, RegoV1, RegoV0)
	}
	if len(w.Modules) == 0 {
		specErr("modules", "a policy needs at least one Rego module")
	}
	seen := map[string]bool{}
	for i, m := range w.Modules {
		switch {
		case m.Name == "":
			specErr(fmt.Sprintf("modules[%d]", i), "module has no name")
		case seen[m.Name]:
			specErr(fmt.Sprintf("modules[%d]", i), "module name %q is used twice", m.Name)
		}
		seen[m.Name] = true
	}
	providers, perrs := jwtProviders(spec.JWTProviders)
	errs = append(errs, perrs...)
	w.JWTProviders = providers
	data, err := canonicalData(spec.Data)
	if err != nil {
		errs = append(errs, &Error{File: "data", Code: CodeData, Message: err.Error()})
	}
	w.Data = data
	return w, errs
}

// compileModules parses every module (all parse errors are reported, not
// just the first module's) and compiles them together.
func compileModules(w wire) (*ast.Compiler, Errors) {
	version := regoVersion(w.RegoVersion)
	parsed := make(map[string]*ast.Module, len(w.Modules))
	var errs Errors
	for _, m := range w.Modules {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Rego, ast.ParserOptions{RegoVersion: version})
		if err != nil {
			errs = append(errs, fromOPA(err)...)
			continue
		}
		if mod == nil {
			errs = append(errs, &Error{File: m.Name, Code: ast.ParseErr, Message: "empty module"})
			continue
		}
		parsed[m.Name] = mod
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c := ast.NewCompiler().WithDefaultRegoVersion(version).WithCapabilities(capabilities(w.AllowNetwork))
	c.Compile(parsed)
	if c.Failed() {
		errs = fromOPA(c.Errors)
		explainExcluded(errs)
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].File < errs[j].File })
		return nil, errs
	}
	return c, nil
}

// checkQuery requires the query to be a single reference into data that
// names at least one rule of the modules.
func checkQuery(c *ast.Compiler, query string) Errors {
	queryErr := func(format string, args ...any) Errors {
		return Errors{{File: "query", Code: CodeQuery, Message: fmt.Sprintf(format, args...)}}
	}
	body, err := ast.ParseBody(query)
	if err != nil {
		out := fromOPA(err)
		for _, e := range out {
			e.File = "query"
		}
		return out
	}
	if len(body) != 1 {
		return queryErr("query %q must be a single reference such as %s", query, resource.DefaultQuery)
	}
	term, ok := body[0].Terms.(*ast.Term)
	if !ok {
		return queryErr("query %q must be a single reference such as %s", query, resource.DefaultQuery)
	}
	ref, ok := term.Value.(ast.Ref)
	if !ok || !ref.HasPrefix(ast.DefaultRootRef) || len(ref) < 2 {
		return queryErr("query %q must be a reference into data such as %s", query, resource.DefaultQuery)
	}
	if len(c.GetRules(ref)) == 0 {
		return queryErr("query %s refers to no rule of the policy's modules", query)
	}
	return nil
}
