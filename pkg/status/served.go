package status

import "google.golang.org/protobuf/types/known/anypb"

// ServedType is what one proxy was last sent of one xDS type, and the
// per-resource versions of the last response it acked.
type ServedType struct {
	TypeURL string
	// Version is the last sent response's version.
	Version string
	// Resources are the resources the proxy holds after the last response
	// (for delta xDS, the sum of every response), sorted by name.
	Resources []ServedResource
	// AckedVersion and Acked are the response version and resource
	// versions (by name) of the last acked state; Acked is nil before any
	// ack.
	AckedVersion string
	Acked        map[string]string
}

// ServedResource is one resource sent to a proxy.
type ServedResource struct {
	Name    string
	Version string
	// Resource is the resource as sent; nil when it was removed.
	Resource *anypb.Any
}

// ConfigSource answers what was served to one proxy; ok is false for a
// proxy that is not connected. Implementations must be safe for
// concurrent use and return values the caller may keep.
type ConfigSource interface {
	ProxyConfig(id string) (types []ServedType, ok bool)
}
