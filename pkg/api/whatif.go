package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"

	"embassy.dev/embassy/pkg/whatif"
)

// maxCheckBytes bounds a what-if query's body.
const maxCheckBytes = 64 << 10

// check answers POST /v1/check: what the mesh would do with one request,
// over the current snapshot. It reads nothing but the snapshot and runs
// the policies' Rego in the Rego sandbox, under the control plane's
// deadline and memory budget, so a read token is enough.
func (s *server) check(w http.ResponseWriter, r *http.Request) {
	var q whatif.Query
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCheckBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeError(w, http.StatusBadRequest, `request body is not a check query: send JSON {"from":"spiffe://td/ns/ns/sa/sa","to":"svc.ns:port","method":"GET","path":"/","headers":{}}: `+err.Error())
		return
	}
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	a, err := whatif.Check(r.Context(), snap, q, whatif.Options{Decide: s.decide})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// decide is a whatif.DecideFunc running in the Rego sandbox; without one
// every policy fails closed.
func (s *server) decide(ctx context.Context, bundles []*compile.Bundle, input map[string]any) ([]engine.Decision, error) {
	if s.o.Rego == nil {
		return nil, errNoRego
	}
	return s.o.Rego.Decide(ctx, bundles, input)
}

// errNoRego is the answer of a policy evaluation on a server without a
// Rego sandbox.
var errNoRego = errors.New("policy evaluation is not configured on this server")
