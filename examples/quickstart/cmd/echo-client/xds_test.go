package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// testNode is the client's node id in the test bootstraps.
const testNode = "echo-client.default"

// fakeCP is a minimal xDS control plane for the client: exactly the
// Listener, Clusters and endpoints one proxyless client of echo asks for,
// built by hand so these tests do not depend on Embassy's translator.
type fakeCP struct {
	addr  string
	cache cache.SnapshotCache
	eps   map[string]string // backend name -> host:port
	rev   int
}

func startFakeCP(t *testing.T, eps map[string]string) *fakeCP {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp := &fakeCP{addr: lis.Addr().String(), cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil), eps: eps}
	s := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s, server.NewServer(ctx, cp.cache, nil))
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(func() { s.Stop(); cancel() })
	return cp
}

// setWeights publishes a route that splits echo.default:50051 over the
// backends by the given weights.
func (cp *fakeCP) setWeights(t *testing.T, weights map[string]uint32) {
	t.Helper()
	const name = "echo.default:50051"
	var wcs []*routev3.WeightedCluster_ClusterWeight
	var clusters, cla []types.Resource
	for _, backend := range []string{"v1", "v2"} {
		if weights[backend] == 0 {
			// grpc-go drops a zero-weight cluster and never asks for it,
			// and an ADS snapshot cache waits until every cluster of the
			// snapshot is asked for: leave it out.
			continue
		}
		wcs = append(wcs, &routev3.WeightedCluster_ClusterWeight{Name: "echo-" + backend, Weight: wrapperspb.UInt32(weights[backend])})
		clusters = append(clusters, &clusterv3.Cluster{
			Name:                 "echo-" + backend,
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			}},
		})
		host, portStr, _ := net.SplitHostPort(cp.eps[backend])
		port, _ := strconv.Atoi(portStr)
		cla = append(cla, &endpointv3.ClusterLoadAssignment{
			ClusterName: "echo-" + backend,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				// grpc-go NACKs a locality without an id and drops one
				// without a weight.
				Locality:            &corev3.Locality{Region: "local"},
				LoadBalancingWeight: wrapperspb.UInt32(1),
				LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
					}}},
				}}}},
			}},
		})
	}
	router, _ := anypb.New(&routerv3.Router{})
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "echo",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: name,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "echo",
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: wcs}},
					}},
				}},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lis := &listenerv3.Listener{Name: name, ApiListener: &listenerv3.ApiListener{ApiListener: hcm}}
	cp.rev++
	snap, err := cache.NewSnapshot(fmt.Sprint(cp.rev), map[resource.Type][]types.Resource{
		resource.ListenerType: {lis},
		resource.ClusterType:  clusters,
		resource.EndpointType: cla,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.cache.SetSnapshot(context.Background(), testNode, snap); err != nil {
		t.Fatal(err)
	}
}
