package compile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Error is one problem found in a policy, placed where OPA placed it. File
// is the module name (or "data", "query", "mode", ... for the other
// fields of the spec), Row and Col are 1-based and zero when OPA gave no
// location, and Code and Message are OPA's, verbatim.
type Error struct {
	File    string `json:"file"`
	Row     int    `json:"row,omitempty"`
	Col     int    `json:"col,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error formats the problem as file:row:col: code: message, the shape
// editors and CI annotations understand.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Row > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Row, e.Col)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem Compile found. It is always non-empty when
// returned as an error.
type Errors []*Error

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Codes used for problems that OPA itself does not report.
const (
	CodeSpec  = "embassy_spec_error"
	CodeData  = "embassy_data_error"
	CodeQuery = "embassy_query_error"
	// CodeForbiddenBuiltin marks a call to a builtin policies may not use
	// (see NetworkBuiltins and ForbiddenBuiltins).
	CodeForbiddenBuiltin = "embassy_forbidden_builtin"
)

// fromOPA turns whatever OPA returned into Errors, keeping each error's
// code, message and location as OPA wrote them.
func fromOPA(err error) Errors {
	// rego.PrepareForEval collects parse and compile errors of every module
	// in a rego.Errors, whose items are OPA's own error types.
	var regoErrs rego.Errors
	if errors.As(err, &regoErrs) {
		var out Errors
		for _, e := range regoErrs {
			out = append(out, fromOPA(e)...)
		}
		return out
	}
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		out := make(Errors, 0, len(astErrs))
		for _, e := range astErrs {
			out = append(out, fromASTError(e))
		}
		return out
	}
	var one *ast.Error
	if errors.As(err, &one) {
		return Errors{fromASTError(one)}
	}
	return Errors{{Code: "rego_error", Message: err.Error()}}
}

func fromASTError(e *ast.Error) *Error {
	out := &Error{Code: e.Code, Message: e.Message}
	if e.Location != nil {
		out.File, out.Row, out.Col = e.Location.File, e.Location.Row, e.Location.Col
	}
	return out
}
