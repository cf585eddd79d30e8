package server

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/cache"
	"embassy.dev/embassy/xds/translate"
)

// checkNodeID refuses an Envoy sidecar or agent whose node id claims a
// workload, by holding a dot, without being "<workload>.<namespace>" of
// two DNS labels: served, it would be no workload and silently lack its
// inbound listeners and policies. An id without a dot claims no workload
// and is served the shared outbound resources; a proxyless client's id is
// free-form.
func checkNodeID(node *core.Node) error {
	id := node.GetId()
	if !strings.Contains(id, ".") || cache.FlavourOf(node) == translate.Proxyless {
		return nil
	}
	if _, _, err := dataplane.ParseNodeID(id); err != nil {
		return status.Errorf(codes.InvalidArgument, "%v: a sidecar's or agent's node id names its Workload; fix the agent's --workload or the bootstrap's node.id", err)
	}
	return nil
}
