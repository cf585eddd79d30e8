package cache

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// AgentKeySuffix marks the key of an agent's node. An agent's policy
// stream sends its workload's node id, the same as the workload's Envoy or
// proxyless server; keyed by id alone, whichever connected first would
// decide the flavour, and so the configuration, of both.
const AgentKeySuffix = "#agent"

// NodeKey is what the publisher, the store and the status
// tracker know a node by: its id, with AgentKeySuffix for an agent, so an
// agent and its workload's own xDS client are two nodes. A non-agent id
// that itself ends in AgentKeySuffix would share the agent's key; on
// mTLS xDS the authorizer refuses it, since "#" is in no namespace.
func NodeKey(node *core.Node) string {
	if FlavourOf(node) == Agent {
		return node.GetId() + AgentKeySuffix
	}
	return node.GetId()
}

// SplitNodeKey returns the node id a key was made from and whether it is
// an agent's.
func SplitNodeKey(key string) (id string, agent bool) {
	return strings.CutSuffix(key, AgentKeySuffix)
}
