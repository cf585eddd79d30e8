package client

import (
	"fmt"

	"embassy.dev/embassy/pkg/resource"
)

// Error is a request the server refused. Message is the server's own
// message; Details lists per-document problems when there are any.
type Error struct {
	StatusCode int
	Message    string
	Details    resource.Errors
}

// Error returns the server's message, which already says what to fix.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d", e.StatusCode)
	}
	return e.Message
}
