package api

import (
	"fmt"
	"net/http"

	"embassy.dev/embassy/pkg/rollout"
)

// ChangeSource reports what became of an applied change; *rollout.Tracker
// implements it.
type ChangeSource interface {
	Change(revision int64) (rollout.Change, bool)
}

// change answers GET /v1/changes/{id}: the proxies the change's push
// changed, and whether each acked, rejected or still owes an answer.
func (s *server) change(w http.ResponseWriter, r *http.Request) {
	if s.o.Changes == nil {
		writeError(w, http.StatusServiceUnavailable, "this control plane does not follow changes to the proxies")
		return
	}
	rev, err := rollout.ParseChangeID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, ok := s.o.Changes.Change(rev)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("change %s is older than the %d pushes the control plane remembers", r.PathValue("id"), rollout.MaxPushes))
		return
	}
	writeJSON(w, http.StatusOK, c)
}
