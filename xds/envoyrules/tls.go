package envoyrules

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/dataplane"
)

// staticClusters are the clusters every bootstrap Embassy writes defines
// statically; a config source other than ADS must reach its server through
// one of them, since a cluster served over CDS may not exist yet when the
// listener or cluster naming it loads.
var staticClusters = map[string]bool{
	dataplane.XDSClusterName:   true,
	dataplane.SDSClusterName:   true,
	dataplane.AuthzClusterName: true,
}

// configSourceClusterRule: an SDS (or other non-ADS) config source names a
// gRPC cluster that must be static in the bootstrap and not EDS.
var configSourceClusterRule = Rule{
	ID:         "config-source.static-cluster",
	Source:     "source/common/config/utility.cc",
	EnvoyError: "envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: '{}' does not exist, was added via api, or is an EDS cluster",
	message:    configSourceCluster,
}

func configSourceCluster(m proto.Message) []finding {
	s, ok := m.(*core.ApiConfigSource)
	if !ok {
		return nil
	}
	switch s.GetApiType() {
	case core.ApiConfigSource_AGGREGATED_GRPC, core.ApiConfigSource_AGGREGATED_DELTA_GRPC:
		// ADS is checked where the bootstrap names it.
		return nil
	}
	// Envoy takes the first cluster name, else the first gRPC service's
	// Envoy cluster; a Google gRPC service names no cluster.
	field, name := ".cluster_names[0]", ""
	if len(s.GetClusterNames()) > 0 {
		name = s.GetClusterNames()[0]
	} else if g := s.GetGrpcServices(); len(g) > 0 && g[0].GetEnvoyGrpc() != nil {
		field, name = ".grpc_services[0].envoy_grpc.cluster_name", g[0].GetEnvoyGrpc().GetClusterName()
	} else {
		return nil
	}
	if staticClusters[name] {
		return nil
	}
	return []finding{{field, fmt.Sprintf(
		"envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: '%s' does not exist, was added via api, or is an EDS cluster", name)}}
}
