package cli

import (
	"errors"
	"fmt"
)

// Exit codes of embassyctl.
const (
	// ExitOK means success (for diff: no differences).
	ExitOK = 0
	// ExitFailure means the command failed (for diff: differences found).
	ExitFailure = 1
	// ExitDiffError means diff could not compare.
	ExitDiffError = 2
)

// ExitError makes a command exit with Code. Silent means the command has
// already printed what went wrong.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

// Error returns the underlying error's message.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps a command's error to the process exit code: 0 for nil,
// an *ExitError's code, and ExitFailure for anything else.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
