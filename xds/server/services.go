package server

import (
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// services is go-control-plane's server, for REST fetches, with every
// stream handed to Embassy's: state of the world to sotwServer,
// incremental to deltaServer.
type services struct {
	serverv3.Server
	sotw  *sotwServer
	delta *deltaServer
}

// StreamAggregatedResources serves a SotW ADS stream.
func (s services) StreamAggregatedResources(str discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	return s.sotw.serve(str, resource.AnyType)
}

// StreamListeners serves a SotW LDS stream.
func (s services) StreamListeners(str listenerservice.ListenerDiscoveryService_StreamListenersServer) error {
	return s.sotw.serve(str, resource.ListenerType)
}

// StreamRoutes serves a SotW RDS stream.
func (s services) StreamRoutes(str routeservice.RouteDiscoveryService_StreamRoutesServer) error {
	return s.sotw.serve(str, resource.RouteType)
}

// StreamClusters serves a SotW CDS stream.
func (s services) StreamClusters(str clusterservice.ClusterDiscoveryService_StreamClustersServer) error {
	return s.sotw.serve(str, resource.ClusterType)
}

// StreamEndpoints serves a SotW EDS stream.
func (s services) StreamEndpoints(str endpointservice.EndpointDiscoveryService_StreamEndpointsServer) error {
	return s.sotw.serve(str, resource.EndpointType)
}

// StreamSecrets serves a SotW SDS stream.
func (s services) StreamSecrets(str secretservice.SecretDiscoveryService_StreamSecretsServer) error {
	return s.sotw.serve(str, resource.SecretType)
}

// DeltaAggregatedResources serves an incremental ADS stream.
func (s services) DeltaAggregatedResources(str discoverygrpc.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return s.delta.serve(str, resource.AnyType)
}

// DeltaListeners serves an incremental LDS stream.
func (s services) DeltaListeners(str listenerservice.ListenerDiscoveryService_DeltaListenersServer) error {
	return s.delta.serve(str, resource.ListenerType)
}

// DeltaRoutes serves an incremental RDS stream.
func (s services) DeltaRoutes(str routeservice.RouteDiscoveryService_DeltaRoutesServer) error {
	return s.delta.serve(str, resource.RouteType)
}

// DeltaClusters serves an incremental CDS stream.
func (s services) DeltaClusters(str clusterservice.ClusterDiscoveryService_DeltaClustersServer) error {
	return s.delta.serve(str, resource.ClusterType)
}

// DeltaEndpoints serves an incremental EDS stream.
func (s services) DeltaEndpoints(str endpointservice.EndpointDiscoveryService_DeltaEndpointsServer) error {
	return s.delta.serve(str, resource.EndpointType)
}

// DeltaSecrets serves an incremental SDS stream.
func (s services) DeltaSecrets(str secretservice.SecretDiscoveryService_DeltaSecretsServer) error {
	return s.delta.serve(str, resource.SecretType)
}
