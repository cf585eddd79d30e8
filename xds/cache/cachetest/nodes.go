package cachetest

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/dataplane"
)

// EnvoyNode is the node an Envoy sidecar of id sends.
func EnvoyNode(id string) *core.Node { return &core.Node{Id: id, UserAgentName: "envoy"} }

// GRPCNode is the node a proxyless gRPC-Go client or server of id sends.
func GRPCNode(id string) *core.Node { return &core.Node{Id: id, UserAgentName: "gRPC Go"} }

// AgentNode is the node the embassy-agent of workload id sends on its
// policy stream: the same id as its workload, told apart by its flavour.
func AgentNode(id string) *core.Node {
	md, _ := structpb.NewStruct(map[string]any{dataplane.FlavourKey: "agent"})
	return &core.Node{Id: id, UserAgentName: "embassy-agent", Metadata: md}
}
