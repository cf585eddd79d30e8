package apply

import (
	"context"
	"errors"
	"fmt"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// A PolicyCompiler compiles one AuthorizationPolicy at apply. It returns
// compile.Errors for problems in the policy, each placed on its module or
// field, and any other error (such as a sandbox limit) for the policy as
// a whole. It is called concurrently with itself.
type PolicyCompiler func(ctx context.Context, name string, spec *resource.AuthorizationPolicySpec) error

// WithPolicyCompiler compiles policies with pc instead of in this process
// with compile.Compile: embassy-cp passes its Rego sandbox, which also
// partially evaluates each policy under a deadline and memory budget.
func WithPolicyCompiler(pc PolicyCompiler) Option {
	return func(a *Applier) { a.compile = pc }
}

// compileInProcess is the PolicyCompiler of an Applier without
// WithPolicyCompiler.
func compileInProcess(_ context.Context, name string, spec *resource.AuthorizationPolicySpec) error {
	_, err := compile.Compile(name, spec)
	return err
}

// CompileErrors compiles the AuthorizationPolicies among rs and returns
// their errors, storing nothing. An apply refused before it reaches Apply
// (a document that does not decode) uses it so its answer names the Rego
// errors too, not only the first kind of problem.
func (a *Applier) CompileErrors(ctx context.Context, rs []*resource.Resource) resource.Errors {
	return a.compileAll(ctx, rs, nil)
}

// compileAll compiles the Rego of every AuthorizationPolicy in an apply, so
// a policy no agent could load is refused before anything is stored. Each
// problem becomes a field error on the document, whose message keeps OPA's
// location, code and message verbatim (authz.rego:3:5: rego_parse_error: ...).
// Documents that already failed validation are skipped: their shape
// errors say more than the compiler would.
func (a *Applier) compileAll(ctx context.Context, rs []*resource.Resource, invalid map[resource.Key]bool) resource.Errors {
	var errs resource.Errors
	for _, r := range rs {
		if r == nil || invalid[r.Key()] {
			continue
		}
		spec, ok := r.Spec.(*resource.AuthorizationPolicySpec)
		if !ok {
			continue
		}
		err := a.compile(ctx, r.Metadata.Namespace+"/"+r.Metadata.Name, spec)
		if err == nil {
			continue
		}
		var ces compile.Errors
		if !errors.As(err, &ces) {
			errs = append(errs, fieldError(r, "spec.modules", err.Error()))
			continue
		}
		for _, ce := range ces {
			errs = append(errs, fieldError(r, compileErrorPath(spec, ce), ce.Error()))
		}
	}
	return errs
}

// compileErrorPath is the spec field a compile error is about: the module
// it names, or the spec field (data, query, mode, ...) it was checked in.
func compileErrorPath(spec *resource.AuthorizationPolicySpec, e *compile.Error) string {
	for i, m := range spec.Modules {
		if m.Name == e.File {
			return fmt.Sprintf("spec.modules[%d].rego", i)
		}
	}
	if e.File == "" {
		return "spec.modules"
	}
	return "spec." + e.File
}

// invalidKeys lists the keys of the resources a set of field errors is about.
func invalidKeys(errs resource.Errors) map[resource.Key]bool {
	out := make(map[resource.Key]bool, len(errs))
	for _, fe := range errs {
		out[resource.Key{Kind: fe.Kind, Namespace: fe.Namespace, Name: fe.Name}] = true
	}
	return out
}
