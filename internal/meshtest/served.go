package meshtest

import (
	"fmt"
	"strings"
)

// Served is a Service name of namespace ns with one http port, 80, and
// its Workload name-1 at address, which runs as service account name;
// more is appended to the Workload's flow-style spec (", egress: [...]").
// Each document starts with "---", so several join into one file.
func Served(ns, name, address string, more ...string) string {
	return fmt.Sprintf(`---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec: {ports: [{name: http, port: 80, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: %[2]s-1, namespace: %[1]s}
spec: {address: %[3]s, services: [%[2]s], serviceAccount: %[2]s%[4]s}
`, ns, name, address, strings.Join(more, ""))
}

// AllowOnly is an AuthorizationPolicy of namespace ns, named for the
// service it targets, that allows only callers whose SPIFFE ID is
// principal: the policy config scoping's auto mode can analyse.
func AllowOnly(ns, service, principal string) string {
	return fmt.Sprintf(`---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  targets: {services: [%[2]s]}
  modules:
  - name: p.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.attributes.source.principal == %[3]q
`, ns, service, principal)
}
