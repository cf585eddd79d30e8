package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/internal/meshtest"
)

const workloadEchoV1 = `apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: echo-v1
spec:
  address: 10.0.0.1
  services: [echo]
  serviceAccount: echo
  labels:
    version: v1
`

const trafficEcho = `apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata:
  name: echo
spec:
  service: echo
  connectTimeout: 1s
`

const authzEcho = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: echo-authz
spec:
  targets:
    services: [echo]
  mode: dry-run
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := true
`

func TestDescribeEveryKind(t *testing.T) {
	e := newEnv(t, nil)
	f := e.file("all.yaml", strings.Join([]string{meshtest.ServiceEcho, workloadEchoV1, meshtest.RouteEcho, trafficEcho, authzEcho,
		"apiVersion: embassy.dev/v1alpha1\nkind: Mesh\nmetadata:\n  name: default\nspec:\n  trustDomain: embassy.local\n"}, "---\n"))
	if code, out, errOut := e.run("apply", "-f", f); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"describe", "service", "echo"}, []string{"Kind:             Service", "http   8080   http", "Routes:", "echo   echo", "TrafficPolicies:", "connect timeout 1s", "echo-authz", "dry-run"}},
		{[]string{"describe", "svc", "echo", "-n", "default"}, []string{"Name:             echo"}},
		{[]string{"describe", "workloads", "echo-v1"}, []string{"Address:          10.0.0.1", "version=v1", "echo-authz"}},
		{[]string{"describe", "route", "echo"}, []string{"Rules:", "1. any request → the service"}},
		{[]string{"describe", "trafficpolicy", "echo"}, []string{"connect timeout 1s"}},
		{[]string{"describe", "AuthorizationPolicy", "echo-authz"}, []string{"Targets:          services echo", "Mode:             dry-run", "authz.rego (2 lines)", "Compiled:"}},
		{[]string{"describe", "mesh", "default"}, []string{"Trust domain:     embassy.local", "mTLS:             STRICT"}},
	}
	for _, c := range cases {
		code, out, errOut := e.run(c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v does not show %q:\n%s", c.args, w, out)
			}
		}
	}
	code, _, errOut := e.run("describe", "service", "nope")
	if code != 1 || !strings.Contains(errOut, "nope") {
		t.Fatalf("describe of a missing service: exit %d\n%s", code, errOut)
	}
}

func TestDescribeTakesRegisteredSubcommands(t *testing.T) {
	saved := describeExtras
	t.Cleanup(func() { describeExtras = saved })
	registerDescribe(func(*globals) *cobra.Command { return &cobra.Command{Use: "proxy ID"} })
	cmd := newDescribeCmd(&globals{})
	found, _, err := cmd.Find([]string{"proxy"})
	if err != nil || found.Name() != "proxy" {
		t.Fatalf("a registered describe subcommand is not found: %v", err)
	}
}
