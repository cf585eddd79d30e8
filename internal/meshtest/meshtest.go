// Package meshtest holds the small mesh documents and fakes that tests of
// several packages (apply, the API, its client, embassyctl) apply and
// read back.
package meshtest

import "embassy.dev/embassy/pkg/status"

// ServiceEcho is Service echo (namespace default) with one http port, 8080.
const ServiceEcho = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata:
  name: echo
spec:
  ports:
  - name: http
    port: 8080
    protocol: http
`

// RouteEcho is a Route for ServiceEcho sending everything to it.
const RouteEcho = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata:
  name: echo
spec:
  service: echo
  rules:
  - backends:
    - weight: 1
`

// WorkloadEcho is Workload echo-1 (namespace default), at 10.0.0.1, backing
// ServiceEcho as service account echo. Its spec's fields come last, so a
// test may append more of them.
const WorkloadEcho = `apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: echo-1
spec:
  address: 10.0.0.1
  services: [echo]
  serviceAccount: echo
`

// ServiceWebShop is Service web of namespace shop with one http port,
// 8080: the service the authorization tests put policies on.
const ServiceWebShop = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
`

// Registry is a status.Registry with a fixed answer.
type Registry []status.Proxy

// Proxies returns the fixed answer.
func (r Registry) Proxies() []status.Proxy { return r }
