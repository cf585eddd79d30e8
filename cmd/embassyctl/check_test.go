package main

import (
	"encoding/json"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/whatif"
)

func TestCheckOfflineOverTheBookstoreExample(t *testing.T) {
	e := newEnv(t, nil)
	checkout := "spiffe://bookstore.example/ns/shop/sa/checkout"
	code, out, errOut := e.run("check", "--offline", "-f", "../../examples/bookstore", "--from", checkout,
		"--to", "payments.shop", "--method", "POST", "--path", "/bookstore.payments.v1.Payments/Charge", "--header", "X-Trace=1")
	if code != 0 || !strings.HasPrefix(out, "ALLOWED") || !strings.Contains(out, "policy shop/payments-callers (enforce") {
		t.Fatalf("checkout charging: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = e.run("check", "--offline", "-f", "../../examples/bookstore", "--from", "spiffe://bookstore.example/ns/web/sa/frontend",
		"--to", "payments.shop", "--method", "POST", "--path", "/bookstore.payments.v1.Payments/Charge", "-o", "json")
	var a whatif.Answer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if code != 1 || a.Allowed || a.Authorization[0].Outcome != "deny" {
		t.Fatalf("frontend charging: exit %d\n%s", code, out)
	}
}

func TestCheckAsksTheControlPlane(t *testing.T) {
	e := newEnv(t, nil)
	if code, out, errOut := e.run("apply", "-f", e.file("echo.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	code, out, errOut := e.run("check", "--to", "echo.default:8080", "--from", "spiffe://embassy.local/ns/default/sa/a")
	if code != 0 || !strings.Contains(out, "route: default/echo/0") || !strings.Contains(out, "no policy targets") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = e.run("check", "--to", "echo", "-f", "x.yaml"); code != 1 || !strings.Contains(errOut, "only for --offline") {
		t.Fatalf("-f without --offline: exit %d %s", code, errOut)
	}
}
