package main

import (
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/status"
)

var describedMesh = meshtest.WorkloadEcho + `---
apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: echo-lb
spec:
  service: echo
  loadBalancer: {policy: ROUND_ROBIN}
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: echo-authz
spec:
  targets: {services: [echo]}
  mode: dry-run
  modules:
  - name: p.rego
    rego: |
      package envoy.authz
      default allow := false
`

func TestDescribeProxySaysWhatShapesIt(t *testing.T) {
	now := time.Now()
	e := newEnv(t, meshtest.Registry{{ID: "echo-1.default", Flavour: "envoy", XDS: "sotw", ConnectedSince: now, Identity: "spiffe://embassy.local/ns/default/sa/echo",
		Types: map[string]status.TypeStatus{
			"type.googleapis.com/envoy.config.cluster.v3.Cluster":   {VersionSent: "7", SentAt: now, VersionAcked: "7", AckedAt: now},
			"type.googleapis.com/envoy.config.listener.v3.Listener": {VersionSent: "8", SentAt: now, VersionAcked: "7", LastNack: &status.Nack{Version: "8", Message: "bad port", Time: now.Add(time.Second)}},
		}}})
	if code, out, errOut := e.run("apply", "-f", e.file("m.yaml", meshtest.ServiceEcho+"---\n"+meshtest.RouteEcho+"---\n"+describedMesh)); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	code, out, errOut := e.run("describe", "proxy", "echo-1.default")
	for _, want := range []string{
		"Identity:   spiffe://embassy.local/ns/default/sa/echo (from its certificate)",
		"Workload:   default/echo-1 at 10.0.0.1, backing echo",
		"  default/echo (service echo, 1 rules)",
		"  default/echo-lb (service echo)",
		"  default/echo-authz (dry-run; targets service echo)",
		"Outbound:   1 Routes",
		"Sync:       NACKED",
		"NACKED   sent 8 acked 7: bad port",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if code != 0 || t.Failed() {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = e.run("describe", "proxy", "ghost.default"); code != 1 || !strings.Contains(errOut, "not connected and names no Workload") {
		t.Fatalf("unknown proxy: exit %d %s", code, errOut)
	}
}
