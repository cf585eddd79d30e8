package cache

import (
	"errors"
	"maps"
	"slices"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// checkServable is the last gate before a set reaches a node: the protos'
// validation and the reference check (package validate), then the rules
// Envoy applies when it loads configuration (package envoyrules). A set
// that fails is never served; the node keeps the last set it was given.
// Secrets named over SDS may be the ones the sidecar's agent serves.
func checkServable(s resourceSet) error {
	r := s.resources()
	return errors.Join(validate.Resources(r, translate.SDSSecretNames()), envoyrules.Check(r).Err())
}

// resources turns a set back into typed lists, sorted by name so that
// problems are reported in the same order every time.
func (s resourceSet) resources() *translate.Resources {
	return &translate.Resources{
		Listeners: typed[*listener.Listener](s[resourcev3.ListenerType]),
		Routes:    typed[*route.RouteConfiguration](s[resourcev3.RouteType]),
		Clusters:  typed[*cluster.Cluster](s[resourcev3.ClusterType]),
		Endpoints: typed[*endpoint.ClusterLoadAssignment](s[resourcev3.EndpointType]),
		Secrets:   typed[*tls.Secret](s[resourcev3.SecretType]),
	}
}

func typed[T any](ts *typeSet) []T {
	if ts == nil {
		return nil
	}
	out := make([]T, 0, len(ts.items))
	for _, name := range slices.Sorted(maps.Keys(ts.items)) {
		if r, ok := ts.items[name].Resource.(T); ok {
			out = append(out, r)
		}
	}
	return out
}
