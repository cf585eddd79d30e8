package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"embassy.dev/embassy/internal/catest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// caHarness is the API over a real CA, with rotate wired the way the
// control plane wires it, counting the rotations it was asked for.
type caHarness struct {
	*harness
	ca      *identity.CA
	events  *events.Bus
	rotated atomic.Int32
}

// newCAHarness serves a CA loaded with cfg; rotate, when not nil, replaces
// the real rotation.
func newCAHarness(t *testing.T, cfg identity.CAConfig, rotate func(*identity.CA) ([]identity.RootInfo, error)) *caHarness {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	ca, err := identity.LoadOrCreateCA(st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rotate == nil {
		rotate = func(ca *identity.CA) ([]identity.RootInfo, error) {
			if err := ca.Rotate(); err != nil {
				return nil, err
			}
			return ca.Roots(), nil
		}
	}
	h := &caHarness{ca: ca, events: events.New(0)}
	srv := httptest.NewServer(NewHandler(Options{
		Store: st, AdminToken: testToken, ReadTokens: []string{testReadToken}, Bundle: ca, Events: h.events,
		RotateCA: func() ([]identity.RootInfo, error) {
			h.rotated.Add(1)
			return rotate(ca)
		},
	}))
	t.Cleanup(srv.Close)
	h.harness = &harness{t: t, srv: srv, st: st}
	return h
}

// doRaw sends body byte for byte, with the admin token.
func (h *harness) doRaw(method, path, body string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", apiwire.JSONContentType)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out
}

func decodeRoots(t *testing.T, body []byte) apiwire.CARootsResponse {
	t.Helper()
	var out apiwire.CARootsResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return out
}

func TestRotateCANeedsTheAdminToken(t *testing.T) {
	h := newCAHarness(t, identity.CAConfig{TrustDomain: "example.org"}, nil)
	for _, c := range []struct {
		token string
		code  int
	}{{"", http.StatusUnauthorized}, {"wrong", http.StatusUnauthorized}, {testReadToken, http.StatusForbidden}} {
		code, body := h.do(http.MethodPost, "/v1/ca/rotate", c.token, nil)
		if code != c.code {
			t.Fatalf("rotate with token %q: %d %s, want %d", c.token, code, body, c.code)
		}
		errorOf(t, body)
	}
	if h.rotated.Load() != 0 || len(h.ca.Bundle()) != 1 {
		t.Fatalf("a refused caller rotated the CA: %d calls, %d roots", h.rotated.Load(), len(h.ca.Bundle()))
	}
	// Reading the roots is a read.
	if code, body := h.do(http.MethodGet, "/v1/ca/roots", testReadToken, nil); code != http.StatusOK {
		t.Fatalf("roots with the read token: %d %s", code, body)
	}
	if code, body := h.do(http.MethodGet, "/v1/ca/roots", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("roots without a token: %d %s", code, body)
	}
}

func TestRotateCAPublishesANewRootThatSignsLater(t *testing.T) {
	h := newCAHarness(t, identity.CAConfig{TrustDomain: "example.org", PublishDelay: time.Hour}, nil)
	before := h.ca.Roots()
	start := time.Now()
	code, body := h.do(http.MethodPost, "/v1/ca/rotate", testToken, nil)
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %s", code, body)
	}
	out := decodeRoots(t, body)
	if out.TrustDomain != "example.org" || len(out.Roots) != 2 {
		t.Fatalf("want example.org with 2 roots, got %s", body)
	}
	old, added := out.Roots[0], out.Roots[1]
	if !old.Active || old.Fingerprint != before[0].Fingerprint {
		t.Fatalf("the old root is not the active one: %+v", old)
	}
	if added.Active || added.Fingerprint == old.Fingerprint || !added.SignsFrom.After(start.Add(59*time.Minute)) {
		t.Fatalf("the new root should wait the publish delay before it signs: %+v", added)
	}
	if got := len(h.ca.Bundle()); got != 2 {
		t.Fatalf("the CA's bundle has %d roots after the rotation, want 2", got)
	}

	code, body = h.do(http.MethodGet, "/v1/ca/roots", testToken, nil)
	if listed := decodeRoots(t, body); code != http.StatusOK || len(listed.Roots) != 2 || listed.Roots[1].Fingerprint != added.Fingerprint {
		t.Fatalf("roots after the rotation: %d %s", code, body)
	}

	evs := h.events.Recent(0)
	if len(evs) != 1 || evs[0].Kind != events.KindRotation || !strings.Contains(evs[0].Message, added.Fingerprint[:16]) {
		t.Fatalf("want one rotation event naming the new root, got %+v", evs)
	}
}

func TestRotateCABodyMustBeEmpty(t *testing.T) {
	h := newCAHarness(t, identity.CAConfig{TrustDomain: "example.org"}, nil)
	for _, body := range []string{`{"force":true}`, `[]`, `null`, `"now"`, `{} {}`, `{`, `rotate`} {
		code, resp := h.doRaw(http.MethodPost, "/v1/ca/rotate", body)
		if code != http.StatusBadRequest {
			t.Fatalf("body %q: %d %s, want 400", body, code, resp)
		}
		if msg := errorOf(t, resp).Error; !strings.Contains(msg, "send an empty body or {}") || !strings.Contains(msg, "nothing was rotated") {
			t.Fatalf("body %q: the message does not say what to send: %s", body, msg)
		}
	}
	if h.rotated.Load() != 0 || len(h.ca.Bundle()) != 1 {
		t.Fatalf("a refused body rotated the CA: %d calls, %d roots", h.rotated.Load(), len(h.ca.Bundle()))
	}
	if _, resp := h.doRaw(http.MethodPost, "/v1/ca/rotate", `{"force":true}`); !strings.Contains(string(resp), `unknown field \"force\"`) {
		t.Fatalf("the message does not name the field: %s", resp)
	}
	for i, body := range []string{"", "{}", " {}\n"} {
		if code, resp := h.doRaw(http.MethodPost, "/v1/ca/rotate", body); code != http.StatusOK || len(decodeRoots(t, resp).Roots) != i+2 {
			t.Fatalf("body %q: %d %s", body, code, resp)
		}
	}
}

func TestRotateCAOfAProvidedCAIsAConflict(t *testing.T) {
	certFile, keyFile := catest.WriteProvidedCA(t, "", "")
	cfg := identity.CAConfig{TrustDomain: "example.org", Type: identity.CATypeProvided, CertFile: certFile, KeyFile: keyFile}
	h := newCAHarness(t, cfg, func(ca *identity.CA) ([]identity.RootInfo, error) {
		if err := ca.Rotate(); err != nil {
			return nil, &RotateRefusedError{Err: err}
		}
		return ca.Roots(), nil
	})
	code, body := h.do(http.MethodPost, "/v1/ca/rotate", testToken, nil)
	if code != http.StatusConflict {
		t.Fatalf("rotate a provided CA: %d %s, want 409", code, body)
	}
	caErr := h.ca.Rotate()
	if caErr == nil || errorOf(t, body).Error != caErr.Error() || !strings.Contains(caErr.Error(), "replace its cert and key files") {
		t.Fatalf("the answer is not the CA's own advice (%v): %s", caErr, body)
	}
	if got := len(h.ca.Bundle()); got != 1 {
		t.Fatalf("the provided CA's bundle has %d roots, want 1", got)
	}
}

func TestRotateCAFailureIsAServerError(t *testing.T) {
	h := newCAHarness(t, identity.CAConfig{TrustDomain: "example.org"}, func(*identity.CA) ([]identity.RootInfo, error) {
		return nil, errors.New("store CA state: disk full")
	})
	code, body := h.do(http.MethodPost, "/v1/ca/rotate", testToken, nil)
	if code != http.StatusInternalServerError || !strings.Contains(errorOf(t, body).Error, "disk full") {
		t.Fatalf("a failed rotation: %d %s", code, body)
	}
	if evs := h.events.Recent(0); len(evs) != 0 {
		t.Fatalf("a failed rotation published %+v", evs)
	}
}

func TestCAEndpointsWithoutACA(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ method, path string }{{http.MethodPost, "/v1/ca/rotate"}, {http.MethodGet, "/v1/ca/roots"}} {
		code, body := h.do(c.method, c.path, testToken, nil)
		if code != http.StatusServiceUnavailable || errorOf(t, body).Error != identityOff {
			t.Fatalf("%s %s without a CA: %d %s", c.method, c.path, code, body)
		}
	}
}
