package api

import (
	"net/http"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
)

func TestWritesNeedTheAdminToken(t *testing.T) {
	h := newHarness(t, nil)
	req := apiwire.ApplyRequest{Files: []apiwire.File{{Name: "echo.yaml", Content: meshtest.ServiceEcho}}}

	code, body := h.do(http.MethodPost, "/v1/apply", "", req)
	if code != http.StatusUnauthorized || !strings.Contains(errorOf(t, body).Error, "missing bearer token: pass --token-file or set EMBASSY_TOKEN_FILE") {
		t.Fatalf("apply without a token: %d %s", code, body)
	}
	code, body = h.do(http.MethodPost, "/v1/apply", "wrong", req)
	if code != http.StatusUnauthorized || errorOf(t, body).Error != "invalid bearer token" {
		t.Fatalf("apply with a wrong token: %d %s", code, body)
	}
	if strings.Contains(string(body), testToken) {
		t.Fatal("an error response leaks the admin token")
	}
	code, body = h.do(http.MethodDelete, "/v1/resources/service/echo", "", nil)
	if code != http.StatusUnauthorized {
		t.Fatalf("delete without a token: %d %s", code, body)
	}
	if h.st.Revision() != 0 {
		t.Fatal("an unauthorised write reached the store")
	}
	if code, body = h.do(http.MethodPost, "/v1/apply", testToken, req); code != http.StatusOK {
		t.Fatalf("apply with the admin token: %d %s", code, body)
	}
}

func TestEmptyAdminTokenRefusesEveryWrite(t *testing.T) {
	mw := newAuthenticator("", nil, false).requireAdmin
	called := false
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := newRecorder()
	r, _ := http.NewRequest(http.MethodPost, "/v1/apply", nil)
	r.Header.Set("Authorization", "Bearer ")
	h.ServeHTTP(rec, r)
	r.Header.Set("Authorization", "Bearer anything")
	h.ServeHTTP(rec, r)
	if called || rec.Code != http.StatusUnauthorized {
		t.Fatalf("an empty admin token let a write through (status %d)", rec.Code)
	}
}

func TestReadsNeedAToken(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.do(http.MethodGet, "/v1/resources/services", "", nil)
	if code != http.StatusUnauthorized || !strings.Contains(errorOf(t, body).Error, "missing bearer token: reads need the read token") {
		t.Fatalf("list without a token: %d %s", code, body)
	}
	if code, body := h.do(http.MethodGet, "/v1/resources/services", testToken, nil); code != http.StatusOK {
		t.Fatalf("list with the admin token: %d %s", code, body)
	}
}
