package apply

import "embassy.dev/embassy/pkg/resource"

// A Check is a condition of the running system that an apply must meet
// beyond what its resources say about themselves: that a Mesh names the
// trust domain the control plane's CA serves, say, which no document can
// know. It is given the apply's resources that passed validation, in the
// order they were given, and refuses the apply by returning an error:
// a *resource.Errors (build its entries with FieldError, so they name the
// document), or any other error, which becomes one field error. A Check
// is called concurrently with itself and must not modify the resources.
type Check func(rs []*resource.Resource) error

// Option configures an Applier.
type Option func(*Applier)

// WithCheck adds a check that every apply, dry runs included, must pass.
// Deletes are not checked.
func WithCheck(c Check) Option {
	return func(a *Applier) { a.checks = append(a.checks, c) }
}

// FieldError returns a field error about r at path, naming r's file and
// document when it was read from one, for a Check to return.
func FieldError(r *resource.Resource, path, msg string) resource.FieldError {
	return fieldError(r, path, msg)
}

// runChecks runs every check on the resources of rs that are not nil and
// not in invalid.
func (a *Applier) runChecks(rs []*resource.Resource, invalid map[resource.Key]bool) resource.Errors {
	if len(a.checks) == 0 {
		return nil
	}
	valid := make([]*resource.Resource, 0, len(rs))
	for _, r := range rs {
		if r != nil && !invalid[r.Key()] {
			valid = append(valid, r)
		}
	}
	var errs resource.Errors
	for _, c := range a.checks {
		errs = append(errs, asFieldErrors(c(valid), nil)...)
	}
	return errs
}

// An Overlay adds resources that live outside the store, such as the
// Services and Workloads discovered in a Kubernetes cluster, to a stored
// set. It must not modify its argument, and returns a new slice.
type Overlay func(stored []*resource.Resource) []*resource.Resource

// WithOverlay makes reference checks see what o adds to the store, so an
// apply may refer to a discovered Service. What o adds is never stored.
func WithOverlay(o Overlay) Option {
	return func(a *Applier) { a.overlay = o }
}

// view is rs with the overlay's resources added.
func (a *Applier) view(rs []*resource.Resource) []*resource.Resource {
	if a.overlay == nil {
		return rs
	}
	return a.overlay(rs)
}
