// Package apply turns a set of decoded resources into one atomic store
// commit: it works out what is created, updated or unchanged, checks that
// every reference still resolves once the apply is merged into what is
// stored, and commits nothing when anything is wrong.
package apply

import (
	"context"
	"fmt"
	"sync"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/store"
)

// Action says what an apply or delete did (or, in a dry run, would do) to
// one resource.
type Action string

// The actions an apply or delete reports.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	Deleted   Action = "deleted"
)

// Item is the outcome for one resource.
type Item struct {
	Key    resource.Key `json:"key"`
	Action Action       `json:"action"`
}

// Result is the outcome of one apply or delete.
type Result struct {
	// Revision is the store revision after the commit (the current one
	// when nothing changed or in a dry run).
	Revision int64 `json:"revision"`
	DryRun   bool  `json:"dryRun"`
	// Items are in the order the resources or keys were given.
	Items []Item `json:"items"`
	// Warnings are reference-check findings that do not refuse the apply.
	Warnings []string `json:"warnings,omitempty"`
	// Excluded are the stored Workloads this apply leaves out of a
	// Service they name (also among Warnings): they get no traffic from
	// it until the Service lists their service account again.
	Excluded []Exclusion `json:"excluded,omitempty"`
	// ChangeID names the committed change ("c-<revision>") whose rollout
	// to the proxies /v1/changes/{id} follows; empty when nothing was
	// committed.
	ChangeID string `json:"changeId,omitempty"`
}

// Applier applies and deletes resources against one store. It is safe for
// concurrent use.
type Applier struct {
	st store.Store
	// mu serialises read-check-commit sequences: without it two applies
	// could both read the same stored set, both pass the reference check,
	// and together commit a set neither checked.
	mu sync.Mutex
	// checks are what the running system adds to validation.
	checks []Check
	// compile compiles AuthorizationPolicies (see WithPolicyCompiler).
	compile PolicyCompiler
	// overlay adds resources from outside the store (see WithOverlay).
	overlay Overlay
}

// New returns an Applier that writes to st, with opts applied.
func New(st store.Store, opts ...Option) *Applier {
	a := &Applier{st: st, compile: compileInProcess}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Apply stores rs as one atomic commit. It refuses the whole apply with a
// *resource.Errors when a document is invalid, when two documents share a
// key, when an AuthorizationPolicy's Rego does not compile, when a Check
// fails, or when a reference would dangle; nothing is stored then. With
// dryRun it reports what it would do and writes nothing.
func (a *Applier) Apply(ctx context.Context, rs []*resource.Resource, dryRun bool) (*Result, error) {
	var errs resource.Errors
	errs = append(errs, validateAll(rs)...)
	errs = append(errs, duplicates(rs)...)
	errs = append(errs, a.compileAll(ctx, rs, invalidKeys(errs))...)
	errs = append(errs, a.runChecks(rs, invalidKeys(errs))...)
	if len(errs) > 0 {
		return nil, &errs
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	stored, rev, err := a.st.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("read stored resources before apply: %w", err)
	}
	byKey := index(stored)

	res := &Result{Revision: rev, DryRun: dryRun}
	var ops []store.Op
	applied := make(map[resource.Key]bool, len(rs))
	for _, r := range rs {
		k := r.Key()
		applied[k] = true
		action := Created
		if old, ok := byKey[k]; ok {
			action = Updated
			if resource.Equal(old, r) {
				action = Unchanged
			}
		}
		res.Items = append(res.Items, Item{Key: k, Action: action})
		if action != Unchanged {
			ops = append(ops, store.Op{Key: k, Resource: withoutOrigin(r)})
		}
	}

	merged := mergeInto(stored, rs)
	warnings, refErrs := newProblems(a.view(stored), a.view(merged), applied)
	refErrs = append(refErrs, excludedWorkloads(a.view(merged), applied)...)
	if len(refErrs) > 0 {
		return nil, &refErrs
	}
	res.Warnings = warnings
	res.Excluded = newExclusions(stored, merged)

	if dryRun || len(ops) == 0 {
		return res, nil
	}
	res.Revision, err = a.st.Commit(ctx, ops)
	if err != nil {
		return nil, fmt.Errorf("commit apply of %d resources: %w", len(ops), err)
	}
	res.ChangeID = rollout.ChangeID(res.Revision)
	return res, nil
}

// validateAll runs resource.Validate on every document, so the Applier is
// safe to call with resources that did not come through resource.Decode.
func validateAll(rs []*resource.Resource) resource.Errors {
	var errs resource.Errors
	for i, r := range rs {
		if r == nil {
			errs = append(errs, resource.FieldError{Index: -1, Msg: fmt.Sprintf("resource %d of the apply is nil: pass only decoded resources", i)})
			continue
		}
		errs = append(errs, asFieldErrors(resource.Validate(r), r)...)
	}
	return errs
}

// duplicates reports every document whose key an earlier document of the
// same apply already used, naming both, because the store could keep only
// one of them and which one would be an accident of ordering.
func duplicates(rs []*resource.Resource) resource.Errors {
	var errs resource.Errors
	first := make(map[resource.Key]*resource.Resource, len(rs))
	for _, r := range rs {
		if r == nil {
			continue
		}
		k := r.Key()
		prev, ok := first[k]
		if !ok {
			first[k] = r
			continue
		}
		fe := fieldError(r, "metadata.name", fmt.Sprintf("duplicate %s: %s defines it too; keep one of the two documents", k, describe(prev)))
		errs = append(errs, fe)
	}
	return errs
}

// withoutOrigin returns a shallow copy of r with its Origin dropped: where
// a document was read from is not part of what is stored.
func withoutOrigin(r *resource.Resource) *resource.Resource {
	c := *r
	c.Origin = nil
	return &c
}

// index maps stored resources by key.
func index(rs []*resource.Resource) map[resource.Key]*resource.Resource {
	m := make(map[resource.Key]*resource.Resource, len(rs))
	for _, r := range rs {
		m[r.Key()] = r
	}
	return m
}

// mergeInto returns stored with every resource of rs put over it: a
// resource of rs replaces the stored one with its key, or is added.
func mergeInto(stored, rs []*resource.Resource) []*resource.Resource {
	pos := make(map[resource.Key]int, len(stored))
	out := make([]*resource.Resource, 0, len(stored)+len(rs))
	for _, r := range stored {
		pos[r.Key()] = len(out)
		out = append(out, r)
	}
	for _, r := range rs {
		if i, ok := pos[r.Key()]; ok {
			out[i] = r
			continue
		}
		out = append(out, r)
	}
	return out
}
