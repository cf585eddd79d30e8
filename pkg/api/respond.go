package api

import (
	"encoding/json"
	"net/http"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/resource"
)

// writeJSON writes v as the response body with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The client has gone if this fails; there is no one left to tell.
	_ = enc.Encode(v)
}

// writeError writes {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiwire.ErrorResponse{Error: msg})
}

// writeFieldErrors writes a 400 with every problem as a line of the
// message and as a structured detail.
func writeFieldErrors(w http.ResponseWriter, errs resource.Errors) {
	writeJSON(w, http.StatusBadRequest, apiwire.ErrorResponse{Error: errs.Error(), Details: errs})
}
