// Package cache publishes Envoy resources built from mesh snapshots into a
// go-control-plane snapshot cache. It translates the shared parts of the
// mesh once per snapshot, gives every node of the same shape the same
// cache snapshot, and debounces bursts of mesh updates into few pushes.
package cache

import (
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// Translator builds resources from a mesh snapshot. Implementations must be
// pure and safe for concurrent use: the publisher calls them from its push
// goroutine and from stream callbacks at the same time.
type Translator interface {
	// Outbound returns the resources every Envoy sidecar shares.
	Outbound(*mesh.Snapshot) *translate.Resources
	// Inbound returns the resources specific to one Envoy sidecar.
	Inbound(*mesh.Snapshot, translate.Proxy) *translate.Resources
	// ProxylessClient returns the resources every proxyless gRPC node shares.
	ProxylessClient(*mesh.Snapshot) *translate.Resources
}

// ProxylessServerTranslator is implemented by a Translator that also
// builds the Listeners of xDS-enabled gRPC servers: proxyless nodes whose
// id names a Workload. Without it every proxyless node is a client.
type ProxylessServerTranslator interface {
	// ProxylessServer returns the server Listeners of one proxyless node.
	ProxylessServer(*mesh.Snapshot, translate.Proxy) *translate.Resources
}

// AgentBundleTranslator is implemented by a Translator that can build an
// agent's authorization bundles on their own. Without it the publisher
// takes them from the workload's inbound translation.
type AgentBundleTranslator interface {
	// AuthzBundles returns the ExtensionConfigs of one workload's agent.
	AuthzBundles(*mesh.Snapshot, translate.Proxy) *translate.Resources
}
