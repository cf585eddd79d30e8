package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/resource"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func TestGetListAndDelete(t *testing.T) {
	h := newHarness(t, nil)
	other := strings.Replace(meshtest.ServiceEcho, "name: echo", "name: echo\n  namespace: prod", 1)
	h.mustApply(apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho + "---\n" + other + "---\n" + meshtest.RouteEcho})

	code, body := h.do(http.MethodGet, "/v1/resources/Services", testToken, nil)
	var list apiwire.ListResponse
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Items) != 2 || list.Revision != 1 {
		t.Fatalf("list all namespaces: %d %s", code, body)
	}
	code, body = h.do(http.MethodGet, "/v1/resources/service?namespace=prod", testToken, nil)
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Items) != 1 || list.Items[0].Metadata.Namespace != "prod" {
		t.Fatalf("list in prod: %d %s", code, body)
	}

	code, body = h.do(http.MethodGet, "/v1/resources/routes/echo", testToken, nil)
	var got resource.Resource
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Spec.(*resource.RouteSpec).Service != "echo" {
		t.Fatalf("get route in the default namespace: %d %s", code, body)
	}

	code, body = h.do(http.MethodGet, "/v1/resources/service/missing?namespace=prod", testToken, nil)
	if code != http.StatusNotFound || !strings.Contains(errorOf(t, body).Error, "Service/prod/missing") {
		t.Fatalf("get missing: %d %s", code, body)
	}
	code, body = h.do(http.MethodGet, "/v1/resources/gateways", testToken, nil)
	if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body).Error, `unknown kind "gateways"`) {
		t.Fatalf("list unknown kind: %d %s", code, body)
	}

	code, body = h.do(http.MethodDelete, "/v1/resources/service/echo", testToken, nil)
	if code != http.StatusConflict || !strings.Contains(errorOf(t, body).Error, "Route/default/echo") {
		t.Fatalf("delete a referenced service: %d %s", code, body)
	}
	code, body = h.do(http.MethodDelete, "/v1/resources/route/echo?dryRun=true", testToken, nil)
	if code != http.StatusOK || h.st.Revision() != 1 {
		t.Fatalf("dry-run delete: %d %s (revision %d)", code, body, h.st.Revision())
	}
	code, body = h.do(http.MethodDelete, "/v1/resources/route/echo", testToken, nil)
	if code != http.StatusOK || h.st.Revision() != 2 {
		t.Fatalf("delete route: %d %s (revision %d)", code, body, h.st.Revision())
	}
	code, body = h.do(http.MethodDelete, "/v1/resources/route/echo", testToken, nil)
	if code != http.StatusNotFound || !strings.Contains(errorOf(t, body).Error, "Route/default/echo not found") {
		t.Fatalf("delete a deleted route: %d %s", code, body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	// The handler runs on the server's goroutines, so the flag is atomic.
	var ready atomic.Bool
	srv := httptest.NewServer(NewHandler(Options{Ready: func() error {
		if ready.Load() {
			return nil
		}
		return errorString("store is still opening")
	}}))
	defer srv.Close()

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "store is still opening"},
	} {
		resp, err := srv.Client().Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		var b strings.Builder
		_, _ = copyBody(&b, resp)
		if resp.StatusCode != tc.code || !strings.Contains(b.String(), tc.body) {
			t.Fatalf("GET %s: %d %s", tc.path, resp.StatusCode, b.String())
		}
	}
	ready.Store(true)
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz when ready: %v %v", resp, err)
	}
	resp.Body.Close()
}
