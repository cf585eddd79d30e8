package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
)

const testToken = "test-admin-token"

// harness is an API server over a memory store.
type harness struct {
	t   *testing.T
	srv *httptest.Server
	st  *store.Memory
}

func newHarness(t *testing.T, reg status.Registry) *harness {
	return serve(t, Options{Proxies: reg})
}

// serve starts the API with o over a new memory store, with testToken as
// its admin token.
func serve(t *testing.T, o Options) *harness {
	t.Helper()
	st := store.NewMemory()
	o.Store, o.AdminToken = st, testToken
	srv := httptest.NewServer(NewHandler(o))
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, st: st}
}

// do sends a request with the given bearer token ("" for none) and JSON
// body (nil for none), and returns the status and raw body.
func (h *harness) do(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatalf("build request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", apiwire.JSONContentType)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, out
}

// applyFiles posts an apply of one file per name/content pair.
func (h *harness) applyFiles(dryRun bool, files ...apiwire.File) (int, []byte) {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/apply", testToken, apiwire.ApplyRequest{Files: files, DryRun: dryRun})
}

// mustApply applies files and fails the test unless it succeeds.
func (h *harness) mustApply(files ...apiwire.File) {
	h.t.Helper()
	if code, body := h.applyFiles(false, files...); code != http.StatusOK {
		h.t.Fatalf("apply: %d %s", code, body)
	}
}

// errorOf decodes an error response.
func errorOf(t *testing.T, body []byte) apiwire.ErrorResponse {
	t.Helper()
	var er apiwire.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil || er.Error == "" {
		t.Fatalf("response is not a JSON error (%v): %s", err, body)
	}
	return er
}

// getJSON reads path with the admin token and decodes its answer into a
// T, failing the test unless it is a 200 that decodes.
func getJSON[T any](h *harness, path string) T {
	h.t.Helper()
	var out T
	code, body := h.do(http.MethodGet, path, testToken, nil)
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		h.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return out
}
