package envoyrules

import (
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	httpopts "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// grpcHealthCheckRule: a gRPC health check speaks HTTP/2 to the upstream,
// so the cluster must be configured for HTTP/2.
var grpcHealthCheckRule = Rule{
	ID:         "cluster.grpc-health-check-http2",
	Source:     "source/common/upstream/health_checker_impl.cc",
	EnvoyError: "{} cluster must support HTTP/2 for gRPC healthchecking",
	message:    grpcHealthCheck,
}

func grpcHealthCheck(m proto.Message) []finding {
	c, ok := m.(*cluster.Cluster)
	if !ok || speaksHTTP2(c) {
		return nil
	}
	var out []finding
	for i, hc := range c.GetHealthChecks() {
		if hc.GetGrpcHealthCheck() != nil {
			out = append(out, finding{fmt.Sprintf(".health_checks[%d].grpc_health_check", i),
				fmt.Sprintf("%s cluster must support HTTP/2 for gRPC healthchecking", c.GetName())})
		}
	}
	return out
}

// httpProtocolOptionsKey is where Envoy looks for a cluster's upstream
// HTTP protocol options.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// speaksHTTP2 is Envoy's HTTP2 cluster feature: HTTP/2 chosen explicitly,
// offered by auto_config, or used when downstream uses it.
func speaksHTTP2(c *cluster.Cluster) bool {
	if c.GetHttp2ProtocolOptions() != nil { //nolint:staticcheck // the deprecated field still counts
		return true
	}
	a, ok := c.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey]
	if !ok {
		return false
	}
	opts := &httpopts.HttpProtocolOptions{}
	if err := anypb.UnmarshalTo(a, opts, proto.UnmarshalOptions{}); err != nil {
		return false
	}
	return opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil ||
		opts.GetAutoConfig() != nil ||
		opts.GetUseDownstreamProtocolConfig().GetHttp2ProtocolOptions() != nil
}

// edsConfigRule: an EDS cluster must say where its endpoints come from.
var edsConfigRule = Rule{
	ID:         "cluster.eds-config",
	Source:     "source/extensions/clusters/eds/eds.cc",
	EnvoyError: "cannot create an EDS cluster without an EDS config",
	message: func(m proto.Message) []finding {
		c, ok := m.(*cluster.Cluster)
		if ok && c.GetType() == cluster.Cluster_EDS && c.GetEdsClusterConfig() == nil {
			return []finding{{".eds_cluster_config", "cannot create an EDS cluster without an EDS config"}}
		}
		return nil
	},
}
