// Package validate checks a set of translated resources before it is
// served: every resource, and every typed_config packed inside it, passes
// the Envoy protos' ValidateAll, and every name one resource references (an
// RDS route configuration, a scope's route configuration, a cluster, an
// EDS assignment, an SDS secret) is
// served alongside it. Each problem names the resource it is in.
//
// The xDS publisher runs it on every set before serving (xds/cache,
// check.go), in one walk with package envoyrules, which holds the rules
// Envoy applies when it loads configuration: validate answers "is this
// well-formed and complete", envoyrules "would Envoy load it". A set that
// fails either is not served.
//
// ValidateAll alone is not enough: it does not look inside Any fields, so an
// HttpConnectionManager that gRPC accepts but Envoy refuses (no stat_prefix)
// would pass it. go-control-plane's Snapshot.Consistent is not enough
// either: it misses RDS names referenced from an api_listener.
package validate
