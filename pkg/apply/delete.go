package apply

import (
	"context"
	"fmt"
	"strings"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// NotFoundError is returned by Delete for a key that is not stored. It
// wraps store.ErrNotFound, so errors.Is(err, store.ErrNotFound) holds.
type NotFoundError struct {
	Key resource.Key
}

// Error names the missing resource and how to see what is stored.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s not found: list what is stored with `embassyctl get %s -A`", e.Key, strings.ToLower(string(e.Key.Kind)))
}

// Unwrap makes the error match store.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return store.ErrNotFound }

// RefusedError is returned by Delete when removing the keys would leave
// other resources referring to something that no longer exists.
type RefusedError struct {
	// Keys are the resources the delete asked for.
	Keys []resource.Key
	// Referrers are the reference errors the delete would introduce, each
	// naming the resource that still refers and the field that does.
	Referrers resource.Errors
}

// Error names every referrer and says how to proceed.
func (e *RefusedError) Error() string {
	var b strings.Builder
	names := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		names[i] = k.String()
	}
	fmt.Fprintf(&b, "refusing to delete %s: still referred to:", strings.Join(names, ", "))
	for _, fe := range e.Referrers {
		ref := resource.Key{Kind: fe.Kind, Namespace: fe.Namespace, Name: fe.Name}
		fmt.Fprintf(&b, "\n  %s %s: %s", ref, fe.Path, fe.Msg)
	}
	b.WriteString("\ndelete the referring resources first (or in the same delete), or change them to refer elsewhere")
	return b.String()
}

// referrers restates the reference errors a delete would introduce as
// what they are to the operator: the referrer and its field still refer
// to what the delete removes. The checker's own message ("service ... does
// not exist") would read as if the resource being deleted were missing.
func referrers(errs resource.Errors, keys []resource.Key) resource.Errors {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	target := strings.Join(names, " or ")
	out := make(resource.Errors, len(errs))
	for i, fe := range errs {
		fe.Msg = "refers to " + target + ", which this delete removes"
		out[i] = fe
	}
	return out
}

// Delete removes keys as one atomic commit. It returns a *NotFoundError for
// a key that is not stored and a *RefusedError when a remaining resource
// would refer to a deleted one; nothing is deleted then. With dryRun it
// reports what it would do and writes nothing.
func (a *Applier) Delete(ctx context.Context, keys []resource.Key, dryRun bool) (*Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()

	stored, rev, err := a.st.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("read stored resources before delete: %w", err)
	}
	byKey := index(stored)
	gone := make(map[resource.Key]bool, len(keys))
	res := &Result{Revision: rev, DryRun: dryRun}
	var ops []store.Op
	for _, k := range keys {
		if _, ok := byKey[k]; !ok {
			return nil, &NotFoundError{Key: k}
		}
		if gone[k] {
			continue
		}
		gone[k] = true
		res.Items = append(res.Items, Item{Key: k, Action: Deleted})
		ops = append(ops, store.Op{Key: k})
	}

	remaining := make([]*resource.Resource, 0, len(stored))
	for _, r := range stored {
		if !gone[r.Key()] {
			remaining = append(remaining, r)
		}
	}
	warnings, refErrs := newProblems(a.view(stored), a.view(remaining), nil)
	if len(refErrs) > 0 {
		return nil, &RefusedError{Keys: keys, Referrers: referrers(refErrs, keys)}
	}
	res.Warnings = warnings

	if dryRun || len(ops) == 0 {
		return res, nil
	}
	res.Revision, err = a.st.Commit(ctx, ops)
	if err != nil {
		return nil, fmt.Errorf("commit delete of %d resources: %w", len(ops), err)
	}
	return res, nil
}
