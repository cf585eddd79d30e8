package apply

import (
	"errors"
	"fmt"

	"embassy.dev/embassy/pkg/resource"
)

// problemKey identifies a reference problem independently of where the
// document was read from, so a problem of the stored set and the same
// problem after a change compare equal.
type problemKey struct {
	kind            resource.Kind
	namespace, name string
	path, msg       string
}

func keyOf(fe resource.FieldError) problemKey {
	return problemKey{fe.Kind, fe.Namespace, fe.Name, fe.Path, fe.Msg}
}

// newProblems runs the reference check on before and after and returns
// what a change would make worse: every warning and error of after that
// before did not have, plus every error on a resource in touched. Problems
// that were already stored (say, a Workload an agent registered before its
// Service was applied) do not block unrelated changes.
func newProblems(before, after []*resource.Resource, touched map[resource.Key]bool) ([]string, resource.Errors) {
	oldWarn, oldErr := checkRefs(before)
	newWarn, newErr := checkRefs(after)

	seenWarn := make(map[string]bool, len(oldWarn))
	for _, w := range oldWarn {
		seenWarn[w] = true
	}
	var warnings []string
	for _, w := range newWarn {
		if !seenWarn[w] {
			warnings = append(warnings, w)
		}
	}

	seenErr := make(map[problemKey]bool, len(oldErr))
	for _, fe := range oldErr {
		seenErr[keyOf(fe)] = true
	}
	var errs resource.Errors
	for _, fe := range newErr {
		k := resource.Key{Kind: fe.Kind, Namespace: fe.Namespace, Name: fe.Name}
		if !seenErr[keyOf(fe)] || touched[k] {
			errs = append(errs, fe)
		}
	}
	return warnings, errs
}

// checkRefs runs resource.CheckReferences and flattens its error into
// field errors.
func checkRefs(rs []*resource.Resource) ([]string, resource.Errors) {
	warnings, err := resource.CheckReferences(rs)
	return warnings, asFieldErrors(err, nil)
}

// asFieldErrors returns the field errors inside err. An error that is not
// a *resource.Errors becomes one field error on r.
func asFieldErrors(err error, r *resource.Resource) resource.Errors {
	if err == nil {
		return nil
	}
	var re *resource.Errors
	if errors.As(err, &re) {
		if re == nil {
			return nil
		}
		return *re
	}
	var rv resource.Errors
	if errors.As(err, &rv) {
		return rv
	}
	return resource.Errors{fieldError(r, "", err.Error())}
}

// fieldError builds a field error about r, naming its file and document
// when it has an origin.
func fieldError(r *resource.Resource, path, msg string) resource.FieldError {
	fe := resource.FieldError{Index: -1, Path: path, Msg: msg}
	if r == nil {
		return fe
	}
	fe.Kind, fe.Namespace, fe.Name = r.Kind, r.Metadata.Namespace, r.Metadata.Name
	if r.Origin != nil {
		fe.File, fe.Index = r.Origin.File, r.Origin.Index
	}
	return fe
}

// describe names where r came from: "FILE document N" when it was read
// from a file, its key otherwise.
func describe(r *resource.Resource) string {
	if r.Origin == nil {
		return r.Key().String()
	}
	// Indexes count from 0, as resource.FieldError prints them.
	return fmt.Sprintf("%s document %d", r.Origin.File, r.Origin.Index)
}
