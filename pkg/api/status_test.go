package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
)

// workloadEcho1 is meshtest.WorkloadEcho with a port and a version label.
const workloadEcho1 = meshtest.WorkloadEcho + `  ports:
  - name: http
    port: 8080
  labels:
    version: v1
`

func TestProxiesFilterByServiceAndPaginate(t *testing.T) {
	now := time.Now()
	reg := meshtest.Registry{}
	for _, id := range []string{"echo-1.default", "client.default", "other.prod", "zed.default"} {
		w, ns, _ := cutNode(id)
		reg = append(reg, statusProxy(id, w, ns, now))
	}
	h := newHarness(t, reg)
	h.mustApply(apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho + "---\n" + workloadEcho1})

	var out apiwire.ProxiesResponse
	get := func(path string) {
		t.Helper()
		code, body := h.do(http.MethodGet, path, testToken, nil)
		out = apiwire.ProxiesResponse{}
		if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	get("/v1/proxies?service=echo")
	if len(out.Proxies) != 1 || out.Proxies[0].ID != "echo-1.default" || out.Proxies[0].SyncState != "SYNCED" {
		t.Fatalf("?service=echo = %+v", out.Proxies)
	}
	get("/v1/proxies?service=echo.prod")
	if len(out.Proxies) != 0 {
		t.Fatalf("?service=echo.prod = %+v", out.Proxies)
	}

	var seen []string
	cont := ""
	for range 10 {
		get("/v1/proxies?limit=3&continue=" + cont)
		for _, p := range out.Proxies {
			seen = append(seen, p.ID)
		}
		if cont = out.Continue; cont == "" {
			break
		}
	}
	want := []string{"client.default", "echo-1.default", "other.prod", "zed.default"}
	if len(seen) != len(want) {
		t.Fatalf("pages gave %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("pages gave %v, want %v", seen, want)
		}
	}
	for _, bad := range []string{"limit=0", "limit=x", "continue=!!!", "state=BROKEN"} {
		if code, _ := h.do(http.MethodGet, "/v1/proxies?"+bad, testToken, nil); code != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", bad, code)
		}
	}
	if code, _ := h.do(http.MethodGet, "/v1/proxies/nobody.default", testToken, nil); code != http.StatusNotFound {
		t.Errorf("unknown proxy: %d", code)
	}

	code, body := h.do(http.MethodGet, "/v1/services", testToken, nil)
	var svcs apiwire.ServicesResponse
	if code != http.StatusOK || json.Unmarshal(body, &svcs) != nil || len(svcs.Services) != 1 || len(svcs.Services[0].Endpoints) != 1 {
		t.Fatalf("services: %d %s", code, body)
	}
	ep := svcs.Services[0].Endpoints[0]
	if ep.Address != "10.0.0.1" || ep.Workload != "echo-1" || ep.Health != apiwire.HealthRegistered || ep.Labels["version"] != "v1" {
		t.Fatalf("endpoint = %+v", ep)
	}
}
