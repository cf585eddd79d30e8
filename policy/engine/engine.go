// Package engine evaluates authorization decisions against one loaded
// policy bundle. A bundle is prepared completely before it replaces the
// previous one behind an atomic pointer, so every decision is made by
// exactly one revision and a bundle that fails to load leaves the last good
// one serving.
package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/cache"

	"embassy.dev/embassy/policy/compile"
)

// ErrNoPolicy is the error of a decision made before any bundle loaded.
var ErrNoPolicy = errors.New("no policy loaded")

// Engine decides requests with the current policy revision. It is safe
// for concurrent use: Decide never blocks on Load.
type Engine struct {
	cur    atomic.Pointer[loaded]
	loadMu sync.Mutex // one Load prepares at a time
}

// loaded is one revision, prepared; it is never modified once published.
type loaded struct {
	bundle   *compile.Bundle
	query    rego.PreparedEvalQuery
	builtins cache.InterQueryValueCache // the revision's own (builtincache.go)
}

// New returns an Engine with no policy; until Load succeeds every decision
// denies with ErrNoPolicy.
func New() *Engine { return &Engine{} }

// Load prepares b and, only once that succeeded, makes it the revision
// every new decision uses. On failure the previous revision keeps serving
// and the error says why (compile.Errors for Rego problems), which is what
// an agent NACKs with. Loading the revision already loaded does nothing.
func (e *Engine) Load(b *compile.Bundle) error {
	if b == nil {
		return errors.New("nil bundle")
	}
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if cur := e.cur.Load(); cur != nil && cur.bundle.Revision() == b.Revision() && cur.bundle.Name() == b.Name() {
		return nil
	}
	pq, err := b.Prepare()
	if err != nil {
		return fmt.Errorf("policy %s revision %s: %w", b.Name(), b.Revision(), err)
	}
	e.cur.Store(&loaded{bundle: b, query: pq, builtins: newBuiltinCache()})
	return nil
}

// Revision is the revision deciding now, or "" before the first Load.
func (e *Engine) Revision() string {
	if l := e.cur.Load(); l != nil {
		return l.bundle.Revision()
	}
	return ""
}

// Bundle is the bundle deciding now, or nil before the first Load.
func (e *Engine) Bundle() *compile.Bundle {
	if l := e.cur.Load(); l != nil {
		return l.bundle
	}
	return nil
}

// Decide evaluates input (a map[string]any or an ast.Value) with the
// current revision. The Decision is always usable: when evaluation fails or
// the result is undefined or malformed, the error is returned too and the
// Decision fails closed, unless the bundle's failure mode is allow.
func (e *Engine) Decide(ctx context.Context, input any) (Decision, error) {
	l := e.cur.Load()
	if l == nil {
		return Decision{Reason: ErrNoPolicy.Error(), Failed: true, HTTPStatus: 403}, ErrNoPolicy
	}
	d := Decision{
		Policy:   l.bundle.Name(),
		Revision: l.bundle.Revision(),
		DryRun:   l.bundle.Mode() == compile.ModeDryRun,
	}
	result, err := l.eval(ctx, input)
	if err == nil {
		err = d.fill(result, l.bundle.Query())
	}
	if err != nil {
		d.fail(err, l.bundle.FailureMode() == compile.FailureAllow)
		return d, err
	}
	return d, nil
}

// eval runs the prepared query and returns its single value.
func (l *loaded) eval(ctx context.Context, input any) (any, error) {
	var builtinErrs []topdown.Error
	opts := []rego.EvalOption{rego.EvalBuiltinErrorList(&builtinErrs), rego.EvalInterQueryBuiltinValueCache(l.builtins)}
	switch in := input.(type) {
	case ast.Value:
		opts = append(opts, rego.EvalParsedInput(in))
	default:
		opts = append(opts, rego.EvalInput(in))
	}
	rs, err := l.query.Eval(ctx, opts...)
	if err != nil {
		return nil, err
	}
	switch {
	case len(rs) == 0 || len(rs[0].Expressions) == 0:
		return nil, undefined(l.bundle.Query(), builtinErrs)
	case len(rs) > 1:
		return nil, fmt.Errorf("%s has %d results, want one", l.bundle.Query(), len(rs))
	}
	return rs[0].Expressions[0].Value, nil
}

// undefined says the decision is undefined and, since OPA's default is to
// make a failing builtin's expression undefined rather than fail, names the
// builtin errors that may be why.
func undefined(query string, builtinErrs []topdown.Error) error {
	if len(builtinErrs) == 0 {
		return fmt.Errorf("%s is undefined", query)
	}
	msgs := make([]string, len(builtinErrs))
	for i := range builtinErrs {
		msgs[i] = builtinErrs[i].Error()
	}
	return fmt.Errorf("%s is undefined; builtin errors: %s", query, strings.Join(msgs, "; "))
}
