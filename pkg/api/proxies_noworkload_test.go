package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/status"
)

// TestAgentWithoutWorkloadReadsNoWorkload checks that an agent whose node
// id names no Workload (a client-only app's) reads NO_WORKLOAD where
// nothing was sent, not NOT_SENT, while an agent of an applied Workload
// that was sent nothing still reads NOT_SENT, and ?state= finds either.
func TestAgentWithoutWorkloadReadsNoWorkload(t *testing.T) {
	authz := "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
	agent := func(id, w string) status.Proxy {
		return status.Proxy{ID: id, Flavour: dataplane.FlavourAgent, Workload: w, Namespace: "default",
			Types: map[string]status.TypeStatus{authz: {}}}
	}
	h := newHarness(t, meshtest.Registry{agent("client.default", "client"), agent("echo-1.default", "echo-1")})
	h.mustApply(apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho + "---\n" + workloadEcho1})

	want := map[string]string{"client.default": status.SyncNoWorkload, "echo-1.default": status.SyncNotSent}
	out := getJSON[apiwire.ProxiesResponse](h, "/v1/proxies")
	for _, p := range out.Proxies {
		if p.Types[authz].SyncState != want[p.ID] || p.SyncState != want[p.ID] {
			t.Errorf("%s: type %s, proxy %s; want %s", p.ID, p.Types[authz].SyncState, p.SyncState, want[p.ID])
		}
	}
	for st, id := range map[string]string{"no_workload": "client.default", "NOT_SENT": "echo-1.default"} {
		_, body := h.do(http.MethodGet, "/v1/proxies?state="+st, testToken, nil)
		out = apiwire.ProxiesResponse{}
		if json.Unmarshal(body, &out) != nil || len(out.Proxies) != 1 || out.Proxies[0].ID != id {
			t.Errorf("?state=%s: %s, want only %s", st, body, id)
		}
	}
	var one status.Proxy
	if code, body := h.do(http.MethodGet, "/v1/proxies/client.default", testToken, nil); code != http.StatusOK || json.Unmarshal(body, &one) != nil || one.SyncState != status.SyncNoWorkload {
		t.Errorf("GET /v1/proxies/client.default: %d %s", code, body)
	}
}
