package translate

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// ByType is r's resources by the xDS type they are served as; a nil r
// has none.
func (r *Resources) ByType() map[resourcev3.Type][]types.Resource {
	if r == nil {
		return map[resourcev3.Type][]types.Resource{}
	}
	return map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType:    asResources(r.Listeners),
		resourcev3.RouteType:       asResources(r.Routes),
		resourcev3.ScopedRouteType: asResources(r.ScopedRoutes),
		resourcev3.ClusterType:     asResources(r.Clusters),
		resourcev3.EndpointType:    asResources(r.Endpoints),
		resourcev3.SecretType:      asResources(r.Secrets),
		// Only a workload's agent asks for these: its authorization bundles.
		resourcev3.ExtensionConfigType: asResources(r.ExtensionConfigs),
	}
}

func asResources[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}
