package main

import (
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/store"
)

// scopedDescribeMesh has auto scoping, a caller front-1 (service account
// front), a service greet that only front may call, one, vault, that only
// admin may call, and one, ledger, that front's workload does not list.
var scopedDescribeMesh = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: mesh.local, configScoping: auto}
` + meshtest.Served("default", "front", "10.0.0.1", ", egress: [{service: greet}, {service: vault}]") + meshtest.Served("default", "greet", "10.0.0.2") + meshtest.Served("default", "vault", "10.0.0.3") + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: ledger}
spec: {ports: [{name: http, port: 80, protocol: http}], endpoints: [{address: 10.0.0.4}]}
` + meshtest.AllowOnly("default", "greet", "spiffe://mesh.local/ns/default/sa/front") +
	meshtest.AllowOnly("default", "vault", "spiffe://mesh.local/ns/default/sa/admin")

func TestDescribeProxyExplainsScoping(t *testing.T) {
	e := serveEnv(t, store.NewMemory(), api.Options{Authz: meshtest.CompileAuthz})
	if code, out, errOut := e.run("apply", "-f", e.file("m.yaml", scopedDescribeMesh)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	code, out, errOut := e.run("describe", "proxy", "front-1.default")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"Scoping:    auto (Mesh spec.configScoping): sent 1 of 4 services",
		"  + greet.default: listed in spec.egress of Workload default/front-1; policy default/greet can allow spiffe://mesh.local/ns/default/sa/front",
		"  - vault.default: listed in spec.egress of Workload default/front-1; no policy of vault can allow spiffe://mesh.local/ns/default/sa/front: AuthorizationPolicy default/vault (on workload vault-1) allows no request of it",
		"  - ledger.default: not listed in spec.egress of its Workload or the Services it backs",
		"  - front.default: not listed in spec.egress",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestDescribeProxySaysScopingIsOff(t *testing.T) {
	e := newEnv(t, nil)
	if code, out, errOut := e.run("apply", "-f", e.file("m.yaml", meshtest.ServiceEcho+"---\n"+describedMesh)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	_, out, _ := e.run("describe", "proxy", "echo-1.default")
	if !strings.Contains(out, "Scoping:    none (Mesh spec.configScoping): sent 1 of 1 services\n  + echo.default: scoping is off") {
		t.Errorf("output:\n%s", out)
	}
}
