package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// list serves every resource of a kind, in one namespace when the
// namespace parameter is given and in all of them otherwise.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	kind, ok := kindParam(w, r)
	if !ok {
		return
	}
	rs, rev, err := s.o.Store.List(r.Context(), kind)
	if err != nil {
		s.internal(w, "list "+string(kind), err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	items := make([]*resource.Resource, 0, len(rs))
	for _, res := range rs {
		// A Mesh has no namespace, so a namespace filter does not hide it.
		if ns == "" || !kind.Namespaced() || res.Metadata.Namespace == ns {
			items = append(items, res)
		}
	}
	w.Header().Set(apiwire.HeaderRevision, strconv.FormatInt(rev, 10))
	writeJSON(w, http.StatusOK, apiwire.ListResponse{Items: items, Revision: rev})
}

// get serves one resource.
func (s *server) get(w http.ResponseWriter, r *http.Request) {
	key, ok := keyParam(w, r)
	if !ok {
		return
	}
	rev := s.o.Store.Revision()
	res, err := s.o.Store.Get(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, notFoundMsg(key))
		return
	}
	if err != nil {
		s.internal(w, "get "+key.String(), err)
		return
	}
	w.Header().Set(apiwire.HeaderRevision, strconv.FormatInt(rev, 10))
	writeJSON(w, http.StatusOK, res)
}

// delete removes one resource, unless something still refers to it.
func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	key, ok := keyParam(w, r)
	if !ok {
		return
	}
	dryRun := false
	if v := r.URL.Query().Get("dryRun"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("dryRun=%q is not a boolean: use dryRun=true or dryRun=false", v))
			return
		}
		dryRun = b
	}
	res, err := s.o.Applier.Delete(r.Context(), []resource.Key{key}, dryRun)
	var refused *apply.RefusedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, notFoundMsg(key))
	case errors.As(err, &refused):
		writeJSON(w, http.StatusConflict, apiwire.ErrorResponse{Error: refused.Error(), Details: refused.Referrers})
	case err != nil:
		s.internal(w, "delete "+key.String(), err)
	default:
		s.log.Info("deleted", "key", key.String(), "revision", res.Revision, "dry_run", res.DryRun)
		s.published(events.KindDelete, res)
		writeJSON(w, http.StatusOK, res)
	}
}

// kindParam parses the {kind} path segment, accepting plurals and any case.
func kindParam(w http.ResponseWriter, r *http.Request) (resource.Kind, bool) {
	kind, err := resource.ParseKind(r.PathValue("kind"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return kind, true
}

// keyParam builds the key named by the path and the namespace parameter,
// which defaults to "default" for namespaced kinds.
func keyParam(w http.ResponseWriter, r *http.Request) (resource.Key, bool) {
	kind, ok := kindParam(w, r)
	if !ok {
		return resource.Key{}, false
	}
	key := resource.Key{Kind: kind, Name: r.PathValue("name")}
	if kind.Namespaced() {
		key.Namespace = r.URL.Query().Get("namespace")
		if key.Namespace == "" {
			key.Namespace = resource.DefaultNamespace
		}
	}
	return key, true
}

// notFoundMsg names the missing key and how to see what exists.
func notFoundMsg(k resource.Key) string {
	return fmt.Sprintf("%s not found: list what is stored with GET /v1/resources/%s (embassyctl get %s -A)", k, k.Kind, k.Kind)
}

// internal logs an unexpected failure and answers 500, or 503 when the
// store is unreachable.
func (s *server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error("request failed", "op", what, "error", err)
	writeError(w, failureStatus(err), what+": "+err.Error())
}
