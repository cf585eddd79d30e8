package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/resource"
)

// MaxApplyBytes bounds the body of an apply request.
const MaxApplyBytes = 8 << 20

// apply decodes every file of the request, refuses the lot if any
// document is bad, and otherwise hands them to the Applier as one apply.
func (s *server) apply(w http.ResponseWriter, r *http.Request) {
	req, ok := readApplyRequest(w, r)
	if !ok {
		return
	}
	var all []*resource.Resource
	var errs resource.Errors
	// Every file is decoded even after one fails, so one round trip shows
	// the user every problem.
	for _, f := range req.Files {
		rs, err := resource.DecodePartial(f.Name, []byte(f.Content))
		if err != nil {
			errs = append(errs, fieldErrors(err, f.Name)...)
		}
		all = append(all, rs...)
	}
	if len(errs) > 0 {
		// The documents that did decode still have their Rego compiled,
		// so a schema error does not hide a syntax error of a policy.
		writeFieldErrors(w, append(errs, s.o.Applier.CompileErrors(r.Context(), all)...))
		return
	}
	if len(all) == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("no resources in %s: each file needs at least one document with apiVersion, kind, metadata and spec", fileNames(req.Files)))
		return
	}

	res, err := s.o.Applier.Apply(r.Context(), all, req.DryRun)
	if err != nil {
		var fe *resource.Errors
		if errors.As(err, &fe) {
			writeFieldErrors(w, *fe)
			return
		}
		s.log.Error("apply failed", "files", len(req.Files), "error", err)
		writeError(w, failureStatus(err), err.Error())
		return
	}
	s.log.Info("applied", "resources", len(res.Items), "revision", res.Revision, "dry_run", res.DryRun)
	s.published(events.KindApply, res)
	writeJSON(w, http.StatusOK, res)
}

// readApplyRequest reads and checks the request body, writing the error
// response itself when it cannot.
func readApplyRequest(w http.ResponseWriter, r *http.Request) (*apiwire.ApplyRequest, bool) {
	body := http.MaxBytesReader(w, r.Body, MaxApplyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var req apiwire.ApplyRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d MiB: apply the files in several smaller batches", MaxApplyBytes>>20))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, `request body is not an apply request: send JSON {"files":[{"name":"x.yaml","content":"..."}],"dryRun":false}: `+err.Error())
		return nil, false
	}
	if len(req.Files) == 0 {
		writeError(w, http.StatusBadRequest, `apply request has no files: send at least one {"name","content"} entry in "files"`)
		return nil, false
	}
	for i, f := range req.Files {
		if f.Name == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("file %d of the apply request has no name: set \"name\" so errors can say which file is wrong", i))
			return nil, false
		}
	}
	return &req, true
}

// fieldErrors returns the problems inside a decode error; an error of
// another type becomes one problem about the whole file.
func fieldErrors(err error, file string) resource.Errors {
	var fe *resource.Errors
	if errors.As(err, &fe) && fe != nil {
		return *fe
	}
	return resource.Errors{{File: file, Index: -1, Msg: err.Error()}}
}

// fileNames lists the request's file names for a message.
func fileNames(fs []apiwire.File) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
