package main

import (
	"strings"
	"testing"
)

// TestGetKindsShortNamesAndAll checks the three ways into get a new user
// tries: no kind lists the kinds with their short names, a short name
// lists its kind, and `get all` lists every kind that has resources.
func TestGetKindsShortNamesAndAll(t *testing.T) {
	cp, tokenFile := startControlPlane(t)
	code, out, errOut := runCtl(t, cp, tokenFile, "get")
	if code != 0 || !strings.Contains(out, "SHORT NAMES") || !strings.Contains(out, "authorizationpolicies") ||
		!strings.Contains(out, "svc") || !strings.Contains(out, "Mesh") {
		t.Fatalf("get without a kind: exit %d\n%s%s", code, out, errOut)
	}

	f := echoFile(t)
	if code, out, errOut := runCtl(t, cp, tokenFile, "apply", "-f", f); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCtl(t, cp, tokenFile, "get", "svc")
	if code != 0 || !strings.Contains(out, "echo") {
		t.Fatalf("get svc: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCtl(t, cp, tokenFile, "get", "all", "-A")
	if code != 0 || !strings.Contains(out, "services:\n") || !strings.Contains(out, "echo") || strings.Contains(out, "routes:") {
		t.Fatalf("get all: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCtl(t, cp, tokenFile, "get", "all", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "kind: Service") {
		t.Fatalf("get all -o yaml: exit %d\n%s%s", code, out, errOut)
	}
}
