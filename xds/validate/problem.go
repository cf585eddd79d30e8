package validate

// Problem is one reason a set may not be served, with the served resource
// it was found in. Its Error is the problem's own message, so a joined
// list of Problems reads as it would without them.
type Problem struct {
	// Resource names the resource at fault as "Kind name" (for a name
	// referenced but not served: the resource that references it).
	Resource string
	Err      error
}

// Error is the problem's message.
func (p *Problem) Error() string { return p.Err.Error() }

// Unwrap returns the problem's error.
func (p *Problem) Unwrap() error { return p.Err }

// Problems lists the Problems inside err, as returned by Resources, Set or
// a Report, in order; errors.Join nesting is followed.
func Problems(err error) []*Problem {
	if err == nil {
		return nil
	}
	if p, ok := err.(*Problem); ok {
		return []*Problem{p}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	var out []*Problem
	for _, e := range joined.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
}
