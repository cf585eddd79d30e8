// Package cache publishes Envoy resources built from mesh snapshots to the
// xDS server, through its own implementation of go-control-plane's
// cache.Cache (Store). It translates the shared parts of the mesh once per
// snapshot, gives every node of the same shape the same view, checks every
// set before it is served, sends state-of-the-world proxies only what
// changed where the protocol allows it, and debounces bursts of mesh
// updates into few pushes.
package cache

import (
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// Translator is everything the publisher asks of a translator: the sets
// every node of a flavour shares, translated once per push, and the sets
// of one node. The publisher calls every method; there is no optional
// part. Implementations must be pure and safe for concurrent use: the
// publisher calls them from its push goroutine and from stream callbacks
// at the same time. Inbound is asked for every sidecar whose id reads as
// "<workload>.<namespace>", ProxylessServer and AuthzBundles only for a
// proxy naming a Workload of the snapshot.
type Translator interface {
	// Outbound returns the resources every Envoy sidecar shares.
	Outbound(*mesh.Snapshot) *translate.Resources
	// ProxylessClient returns the resources every proxyless gRPC node
	// shares.
	ProxylessClient(*mesh.Snapshot) *translate.Resources
	// Inbound returns the resources of one Envoy sidecar of its own.
	Inbound(*mesh.Snapshot, translate.Proxy) *translate.Resources
	// ProxylessServer returns the server Listeners of one xDS-enabled
	// gRPC server: a proxyless node whose id names a Workload.
	ProxylessServer(*mesh.Snapshot, translate.Proxy) *translate.Resources
	// AuthzBundles returns the ExtensionConfigs of one workload's agent.
	AuthzBundles(*mesh.Snapshot, translate.Proxy) *translate.Resources
}
