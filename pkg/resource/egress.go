package resource

// Config scoping modes of a Mesh (spec.configScoping): which services each
// proxy is sent. docs/scoping.md describes them.
const (
	// ScopingNone sends every proxy every service (the default).
	ScopingNone = "none"
	// ScopingExplicit sends a proxy whose Workload (or a service it
	// backs) lists an egress only what is listed; a proxy with no list
	// still gets every service.
	ScopingExplicit = "explicit"
	// ScopingAuto is ScopingExplicit, and also leaves out every service
	// whose authorization policies cannot allow the proxy's identity.
	ScopingAuto = "auto"
)

// ScopingModes lists the modes in the order the docs give them.
var ScopingModes = []string{ScopingNone, ScopingExplicit, ScopingAuto}

// How Envoy sidecars hold their outbound HTTP routes (Mesh
// spec.sidecarRoutes).
const (
	// RoutesShared puts every service's virtual hosts in one
	// RouteConfiguration (the default): fewest resources per sidecar, but
	// a route change resends all of them.
	RoutesShared = "shared"
	// RoutesPerService gives each service a RouteConfiguration of its own,
	// chosen per request through Scoped RDS: a route change resends one
	// service's, at about twice the resources per sidecar.
	RoutesPerService = "perService"
)

// SidecarRoutesModes lists the sidecarRoutes values in the order the docs
// give them.
var SidecarRoutesModes = []string{RoutesShared, RoutesPerService}

// Egress is one destination a workload calls, like an egress host of
// Istio's Sidecar: one service, or every service of a namespace.
type Egress struct {
	// Service is a service's name, in Namespace when that is set, else in
	// the namespace of the resource that lists it.
	Service string `json:"service,omitempty"`
	// Namespace alone lists every service of the namespace.
	Namespace string `json:"namespace,omitempty"`
}

// Target resolves the entry for a resource in namespace ns: the namespace
// it names, and the service, or "" for the whole namespace.
func (e Egress) Target(ns string) (namespace, service string) {
	if e.Namespace != "" {
		ns = e.Namespace
	}
	return ns, e.Service
}

// String renders the entry as the docs and describe write it:
// "service greet", "service greet.payments" or "namespace payments".
func (e Egress) String() string {
	switch {
	case e.Service == "":
		return "namespace " + e.Namespace
	case e.Namespace == "":
		return "service " + e.Service
	}
	return "service " + e.Service + "." + e.Namespace
}
