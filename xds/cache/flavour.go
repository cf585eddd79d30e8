package cache

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"embassy.dev/embassy/xds/translate"
)

// FlavourMetadataKey is the node metadata field a client sets to
// "proxyless" to declare itself a proxyless gRPC node.
const FlavourMetadataKey = "embassy.flavour"

// FlavourOf says whether a node is an Envoy sidecar or a proxyless gRPC
// client. gRPC's xDS clients announce themselves with a user agent starting
// with "gRPC", so they need no special bootstrap to be recognised.
func FlavourOf(node *core.Node) translate.Flavour {
	if f := node.GetMetadata().GetFields()[FlavourMetadataKey]; f.GetStringValue() == string(translate.Proxyless) {
		return translate.Proxyless
	}
	if strings.HasPrefix(node.GetUserAgentName(), "gRPC") {
		return translate.Proxyless
	}
	return translate.Envoy
}

// ProxyFor describes the node for the translator. An Envoy node whose id
// is not "<workload>.<namespace>" gets no workload, and so only the shared
// outbound resources.
func ProxyFor(node *core.Node, parse func(string) (string, string, error)) translate.Proxy {
	p := translate.Proxy{ID: node.GetId(), Flavour: FlavourOf(node)}
	if p.Flavour != translate.Envoy || parse == nil {
		return p
	}
	if w, ns, err := parse(p.ID); err == nil {
		p.Workload, p.Namespace = w, ns
	}
	return p
}
