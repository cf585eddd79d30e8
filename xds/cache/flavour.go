package cache

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/translate"
)

// Agent is the flavour of an embassy-agent's policy stream. It is known to
// the cache only: the agent shares its workload's node id but asks for the
// workload's authorization bundles alone, so it is a node of its own (see
// NodeKey) whose view holds nothing else.
const Agent translate.Flavour = dataplane.FlavourAgent

// FlavourOf says whether a node is an Envoy sidecar, a proxyless gRPC
// client or an agent. gRPC's xDS clients announce themselves with a user
// agent starting with "gRPC", so they need no special bootstrap to be
// recognised; an agent says what it is in its metadata.
func FlavourOf(node *core.Node) translate.Flavour {
	switch node.GetMetadata().GetFields()[dataplane.FlavourKey].GetStringValue() {
	case string(translate.Proxyless):
		return translate.Proxyless
	case string(Agent):
		return Agent
	}
	if strings.HasPrefix(node.GetUserAgentName(), "gRPC") {
		return translate.Proxyless
	}
	return translate.Envoy
}

// ProxyFor describes the node for the translator. An Envoy node or agent
// whose id is not "<workload>.<namespace>" (read by the translator's own
// rule, so the two never disagree) gets no workload, and so only the
// shared outbound resources (an agent: nothing).
func ProxyFor(node *core.Node) translate.Proxy {
	p := translate.Proxy{ID: node.GetId(), Flavour: FlavourOf(node)}
	if p.Flavour == translate.Proxyless {
		return p
	}
	if w, ns, err := dataplane.ParseNodeID(p.ID); err == nil {
		p.Workload, p.Namespace = w, ns
	}
	return p
}
