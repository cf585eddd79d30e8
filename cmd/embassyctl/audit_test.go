package main

import (
	"encoding/json"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/posture"
)

func TestAuditFailsOnFindingsAtOrAboveTheLevel(t *testing.T) {
	e := newEnv(t, nil)
	if code, out, errOut := e.run("apply", "-f", e.file("echo.yaml", meshtest.ServiceEcho)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	code, out, errOut := e.run("audit")
	if code != 0 || !strings.Contains(out, "MEDIUM") || !strings.Contains(out, "service-without-authz") || !strings.Contains(out, "fix service-without-authz (Service/default/echo)") {
		t.Fatalf("audit: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = e.run("audit", "--fail-on", "high"); code != 0 {
		t.Fatalf("--fail-on high with only a medium finding: exit %d %s", code, errOut)
	}
	code, out, errOut = e.run("audit", "--fail-on", "medium", "-o", "json")
	var r posture.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if code != 1 || len(r.Findings) != 1 || !strings.Contains(errOut, "1 finding(s) at or above medium") {
		t.Fatalf("--fail-on medium: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = e.run("audit", "--fail-on", "urgent"); code != 1 || !strings.Contains(errOut, "--fail-on") {
		t.Fatalf("bad level: exit %d %s", code, errOut)
	}
}
