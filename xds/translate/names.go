package translate

import (
	"fmt"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// OutboundHTTPName names an Envoy sidecar's outbound HTTP listener and
// prefixes the names of its per-service RouteConfigurations and scopes
// (OutboundRouteName).
const OutboundHTTPName = "outbound_http"

// Listener and route names of the Envoy sidecar flavour. The golden files
// pin them, and the xDS cache relies on them being stable.
const (
	outboundHTTPAddress = "127.0.0.1"
	outboundHTTPPort    = resource.SidecarOutboundPort
	localhost           = "127.0.0.1"
)

// hostPort is the authority clients use for a service port, and the name of
// its proxyless Listener and RouteConfiguration: <svc>.<ns>:<port>.
func hostPort(ref mesh.ServiceRef, port uint32) string {
	return fmt.Sprintf("%s:%d", ref, port)
}

// inboundName names an inbound listener, its route and its local cluster.
func inboundName(port uint32) string { return fmt.Sprintf("inbound|%d", port) }

// outboundTCPName names the outbound listener of a service's tcp port:
// outbound_tcp|<port>|<svc>.<ns>, since services may share a port.
func outboundTCPName(ref mesh.ServiceRef, port uint32) string {
	return fmt.Sprintf("outbound_tcp|%d|%s", port, ref)
}
