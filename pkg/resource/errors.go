package resource

import (
	"fmt"
	"strings"
)

// FieldError is one problem in one document.
type FieldError struct {
	File string `json:"file,omitempty"` // "" when not from a file
	// Index is the document's index in the file, from 0 (-1 when unknown).
	Index int `json:"index"`
	// Line is the line of the file where the document starts (0 when
	// unknown); it helps a reader find "document 7" in a long file.
	Line      int    `json:"line,omitempty"`
	Kind      Kind   `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Path is the field path, like spec.rules[0].backends[1].weight ("" for
	// the whole document).
	Path string `json:"path,omitempty"`
	// Msg says what was expected, e.g. `must be >= 0, got -5`.
	Msg string `json:"message"`
}

// Error renders the problem as one line:
// `file: document 2 at line 14 (Route default/reviews): spec.port: must be ...`.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	loc := ""
	if e.Index >= 0 {
		loc = fmt.Sprintf("document %d", e.Index)
		if e.Line > 0 {
			loc += fmt.Sprintf(" at line %d", e.Line)
		}
	}
	switch obj := e.object(); {
	case loc != "" && obj != "":
		b.WriteString(loc + " (" + obj + "): ")
	case loc != "":
		b.WriteString(loc + ": ")
	case obj != "":
		b.WriteString(obj + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// object names the resource the error is about, as "Kind ns/name", or ""
// when the document did not get far enough to say.
func (e FieldError) object() string {
	switch {
	case e.Kind == "" && e.Name == "":
		return ""
	case e.Name == "":
		return string(e.Kind)
	case e.Namespace == "":
		return strings.TrimSpace(string(e.Kind) + " " + e.Name)
	default:
		return strings.TrimSpace(string(e.Kind) + " " + e.Namespace + "/" + e.Name)
	}
}

// Errors is a list of FieldError; Error() prints one per line. Decode,
// Validate and CheckReferences return it as *Errors.
type Errors []FieldError

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As fill a plain Errors value from a returned *Errors.
func (es *Errors) As(target any) bool {
	if t, ok := target.(*Errors); ok && es != nil {
		*t = *es
		return true
	}
	return false
}

// orNil returns the list as an error, or nil when it is empty, so callers
// never see a non-nil error holding no problems.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return &es
}

// subject says which resource a problem is about and where it came from.
type subject struct {
	file      string
	index     int
	line      int
	kind      Kind
	namespace string
	name      string
}

// subjectOf describes r, using its Origin when it has one.
func subjectOf(r *Resource) subject {
	s := subject{index: -1, kind: r.Kind, namespace: r.Metadata.Namespace, name: r.Metadata.Name}
	if r.Origin != nil {
		s.file, s.index = r.Origin.File, r.Origin.Index
	}
	return s
}

// add appends a problem at path about s.
func (es *Errors) add(s subject, path, format string, args ...any) {
	*es = append(*es, FieldError{
		File: s.file, Index: s.index, Line: s.line,
		Kind: s.kind, Namespace: s.namespace, Name: s.name,
		Path: path, Msg: fmt.Sprintf(format, args...),
	})
}
