package dataplane

// Node metadata every client of embassy-cp's xDS sends, so the control
// plane can tell the kinds apart before they ask for anything.
const (
	// FlavourKey is the node metadata key that names the flavour.
	FlavourKey = "embassy.flavour"
	// FlavourEnvoy marks an Envoy sidecar.
	FlavourEnvoy = "envoy"
	// FlavourProxyless marks a proxyless gRPC application.
	FlavourProxyless = "proxyless"
	// FlavourAgent marks an embassy-agent's policy stream, which shares
	// its workload's node id and asks only for authorization bundles.
	FlavourAgent = "agent"
)

// ServerListenerTemplate is the Listener name an xDS-enabled gRPC server
// asks for, with its listening ip:port in place of %s; the proxyless
// bootstrap sets it and the translator names server Listeners by it.
const ServerListenerTemplate = "grpc/server?xds.resource.listening_address=%s"
