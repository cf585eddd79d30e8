// Package translate turns a mesh snapshot into Envoy resources. Every
// function here is pure: no I/O, no clocks, no globals, and the output is
// sorted so the same input always gives the same bytes.
package translate

import (
	"embassy.dev/embassy/pkg/dataplane"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Flavour says what kind of xDS client a proxy is.
type Flavour string

// The proxy flavours.
const (
	// Envoy is an Envoy sidecar whose node id is <workload>.<namespace>.
	Envoy Flavour = dataplane.FlavourEnvoy
	// Proxyless is a gRPC application using gRPC's own xDS client.
	Proxyless Flavour = dataplane.FlavourProxyless
)

// Proxy identifies the proxy a translation is for.
type Proxy struct {
	// ID is the node id.
	ID      string
	Flavour Flavour
	// Workload and Namespace name the workload behind an Envoy sidecar.
	Workload  string
	Namespace string
}

// Resources is a set of Envoy resources of every type, each list sorted by
// resource name.
type Resources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	// ScopedRoutes select an Envoy sidecar's outbound RouteConfiguration
	// per request (Scoped RDS).
	ScopedRoutes []*route.ScopedRouteConfiguration
	Clusters     []*cluster.Cluster
	Endpoints    []*endpoint.ClusterLoadAssignment
	Secrets      []*tls.Secret
	// ExtensionConfigs carry authorization bundles to a workload's agent
	// (see dataplane.AuthzExtensionName); Envoy itself never asks for them.
	ExtensionConfigs []*core.TypedExtensionConfig
}

// Diagnostic is a non-fatal problem found while translating, such as a
// subset with no endpoints. Translation goes on around it: the operator sees
// the diagnostic while the rest of the mesh keeps working.
type Diagnostic struct {
	// Resource names the mesh resource the problem comes from, as
	// Kind/namespace/name.
	Resource string
	// Message says what is wrong and what the translator did about it.
	Message string
}
