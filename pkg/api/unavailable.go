package api

import (
	"errors"
	"net/http"

	"embassy.dev/embassy/pkg/store"
)

// failureStatus is the HTTP status of a request that failed on err: 503
// when the store cannot be reached (nothing was done and the client may
// try again once it is back, which /readyz tells), 500 otherwise.
func failureStatus(err error) int {
	if errors.Is(err, store.ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
