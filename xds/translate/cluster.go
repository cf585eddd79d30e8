package translate

import (
	"maps"
	"slices"
	"sort"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpopts "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/resource"
)

// httpProtocolOptionsName is the extension key Envoy reads upstream HTTP
// protocol options from.
const httpProtocolOptionsName = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// outboundClusterRefs lists every outbound cluster of the flavour, sorted by
// name: one per service port (HTTP-family only for proxyless clients, which
// cannot use tcp) plus the subset clusters routes referenced. Routes must be
// translated first, since they record the subsets.
func (t *translator) outboundClusterRefs() []clusterRef {
	byName := map[string]clusterRef{}
	for _, svc := range t.s.Services {
		for _, p := range svc.Spec.Ports {
			if t.flavour == Proxyless && !isHTTPFamily(p.Protocol) {
				continue
			}
			c := clusterRef{svc: svc, port: p}
			byName[c.name()] = c
		}
	}
	for name, c := range t.subsets {
		byName[name] = c
	}
	out := make([]clusterRef, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[name])
	}
	return out
}

// outboundClusters builds the Cluster and ClusterLoadAssignment of every
// outbound cluster.
func (t *translator) outboundClusters() ([]*cluster.Cluster, []*endpoint.ClusterLoadAssignment) {
	refs := t.outboundClusterRefs()
	clusters := make([]*cluster.Cluster, 0, len(refs))
	clas := make([]*endpoint.ClusterLoadAssignment, 0, len(refs))
	for _, c := range refs {
		clusters = append(clusters, t.edsCluster(c))
		cla, scaled := clusterLoadAssignment(c, failoverOrder(t.trafficSettings(c.svc)))
		if scaled {
			t.diag(resource.KindService, c.svc.Ref.Namespace, c.svc.Ref.Name, "endpoint weights of %s add up to more than 4294967295, which Envoy refuses; they are scaled down in proportion", c.name())
		}
		clas = append(clas, cla)
	}
	return clusters, clas
}

// edsCluster builds the Cluster of a service port or subset. Its endpoints
// come over EDS on the same ADS stream, which is the only discovery type
// proxyless gRPC supports besides LOGICAL_DNS. The service's TrafficPolicy
// adds load balancing, circuit breaking, outlier detection, locality
// weighting, health checks and connection options, each as far as the
// flavour supports it.
func (t *translator) edsCluster(c clusterRef) *cluster.Cluster {
	ts := t.trafficSettings(c.svc)
	out := &cluster.Cluster{
		Name:                      c.name(),
		ClusterDiscoveryType:      &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:          &cluster.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()},
		ConnectTimeout:            ts.connectTimeout,
		LbPolicy:                  ts.lbPolicy,
		CircuitBreakers:           t.circuitBreakers(ts),
		OutlierDetection:          t.outlierDetection(ts),
		CommonLbConfig:            t.commonLBConfig(ts),
		HealthChecks:              t.healthChecks(ts, c),
		UpstreamConnectionOptions: t.upstreamConnectionOptions(ts),
		TransportSocket:           t.upstreamTransportSocket(c),
	}
	if rh := ringHashConfig(ts); rh != nil {
		out.LbConfig = rh
	}
	// gRPC ignores protocol options (it always speaks HTTP/2), so they are
	// left out of the proxyless set to keep it minimal.
	if t.flavour == Envoy && wantsHTTP2(ts, c) {
		out.TypedExtensionProtocolOptions = http2ProtocolOptions()
	}
	return out
}

// staticCluster builds a cluster with one fixed endpoint, used for the
// local application behind a sidecar.
func staticCluster(name, address string, port uint32, http2 bool) *cluster.Cluster {
	out := &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(defaultConnectTimeout),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		LoadAssignment: &endpoint.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpoint.LocalityLbEndpoints{{
				LbEndpoints: []*endpoint.LbEndpoint{lbEndpoint(address, port, 1)},
			}},
		},
	}
	if http2 {
		out.TypedExtensionProtocolOptions = http2ProtocolOptions()
	}
	return out
}

// http2ProtocolOptions makes Envoy speak HTTP/2 to upstreams; without it a
// grpc or http2 port would be spoken to in HTTP/1.1 and fail.
func http2ProtocolOptions() map[string]*anypb.Any {
	opts := &httpopts.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpopts.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpopts.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpopts.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &core.Http2ProtocolOptions{},
				},
			},
		},
	}
	return map[string]*anypb.Any{httpProtocolOptionsName: toAny(opts)}
}

// adsConfigSource says a resource comes over the same ADS stream.
func adsConfigSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// sortClusters orders clusters by name.
func sortClusters(cs []*cluster.Cluster) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].GetName() < cs[j].GetName() })
}
