package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
)

// RotateRefusedError is a RotateCA error from a CA that does not rotate
// itself, such as a provided CA; the API answers 409 Conflict with its
// message, which says what to do instead.
type RotateRefusedError struct {
	Err error
}

func (e *RotateRefusedError) Error() string { return e.Err.Error() }

// Unwrap returns the CA's own error.
func (e *RotateRefusedError) Unwrap() error { return e.Err }

// maxRotateRequestBytes bounds a rotation's body, which holds nothing.
const maxRotateRequestBytes = 1 << 10

// rotateBodyHint says what a rotation's body may be.
const rotateBodyHint = "a CA rotation takes no options: send an empty body or {}; nothing was rotated"

// caRoots lists the bundle's roots with their rotation state.
func (s *server) caRoots(w http.ResponseWriter, _ *http.Request) {
	if s.o.Bundle == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	writeJSON(w, http.StatusOK, apiwire.CARootsResponse{TrustDomain: s.o.Bundle.TrustDomain().Name(), Roots: nonNilRoots(s.o.Bundle.Roots())})
}

// rotateCA publishes a new root of the mesh CA. The body is checked before
// anything happens, so a request the API does not understand rotates
// nothing.
func (s *server) rotateCA(w http.ResponseWriter, r *http.Request) {
	if s.o.RotateCA == nil {
		writeError(w, http.StatusServiceUnavailable, identityOff)
		return
	}
	if err := checkEmptyBody(http.MaxBytesReader(w, r.Body, maxRotateRequestBytes)); err != nil {
		writeError(w, http.StatusBadRequest, "rotate request: "+err.Error()+": "+rotateBodyHint)
		return
	}
	roots, err := s.o.RotateCA()
	if err != nil {
		var refused *RotateRefusedError
		if errors.As(err, &refused) {
			writeError(w, http.StatusConflict, refused.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "rotating the mesh CA: "+err.Error())
		return
	}
	out := apiwire.CARootsResponse{Roots: nonNilRoots(roots)}
	if s.o.Bundle != nil {
		out.TrustDomain = s.o.Bundle.TrustDomain().Name()
	}
	s.publishRotation(out)
	writeJSON(w, http.StatusOK, out)
}

// checkEmptyBody accepts a body that is empty, blank or the empty JSON
// object, and says what is wrong with any other.
func checkEmptyBody(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return errors.New("the body is not a JSON object")
	}
	if len(fields) > 0 {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, fmt.Sprintf("%q", k))
		}
		slices.Sort(names)
		return fmt.Errorf("unknown field %s", names[0])
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the body holds more than one JSON value")
	}
	return nil
}

// publishRotation records the root a rotation published in /v1/events.
// The newest root is the last one: roots are ordered by when they sign.
func (s *server) publishRotation(out apiwire.CARootsResponse) {
	if s.o.Events == nil || len(out.Roots) == 0 {
		return
	}
	newest := out.Roots[len(out.Roots)-1]
	msg := fmt.Sprintf("CA root %s published; it signs from %s", apiwire.ShortFingerprint(newest.Fingerprint), newest.SignsFrom.UTC().Format(time.RFC3339))
	s.o.Events.Publish(events.Event{Kind: events.KindRotation, Message: msg})
}

// nonNilRoots keeps an empty list from encoding as null.
func nonNilRoots(rs []identity.RootInfo) []identity.RootInfo {
	if rs == nil {
		return []identity.RootInfo{}
	}
	return rs
}
