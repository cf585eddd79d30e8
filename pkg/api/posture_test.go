package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/posture"
	"embassy.dev/embassy/pkg/status"
)

func TestPostureReportsTheRunningMesh(t *testing.T) {
	reg := meshtest.Registry{{ID: "echo-1.default", Types: map[string]status.TypeStatus{
		"lds": {VersionSent: "2", SentAt: time.Now(), LastNack: &status.Nack{Version: "2", Message: "bad", Time: time.Now()}},
	}}}
	h := serve(t, Options{Proxies: reg, InsecureXDS: true})
	if code, body := h.do(http.MethodPost, "/v1/apply", testToken, apiwire.ApplyRequest{Files: []apiwire.File{{Name: "m.yaml", Content: meshtest.ServiceEcho + "---\n" + meshtest.WorkloadEcho}}}); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	code, body := h.do(http.MethodGet, "/v1/posture", testToken, nil)
	if code != http.StatusOK {
		t.Fatalf("posture: %d %s", code, body)
	}
	var r posture.Report
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	ids := map[string]posture.Severity{}
	for _, f := range r.Findings {
		ids[f.ID] = f.Severity
	}
	want := map[string]posture.Severity{"insecure-xds": posture.Critical, "proxy-nacking": posture.High, "service-without-authz": posture.Medium}
	for id, sev := range want {
		if ids[id] != sev {
			t.Errorf("finding %s: got severity %q, want %q (report %s)", id, ids[id], sev, body)
		}
	}
	if r.Findings[0].ID != "insecure-xds" || r.Revision == 0 {
		t.Fatalf("report %s", body)
	}
}
