package api

import (
	"net/http"

	"embassy.dev/embassy/pkg/resource"
)

// Endpoint health values. Without active health checking an endpoint a
// workload registered is "registered"; a static one is "unknown".
const (
	HealthUnknown    = "unknown"
	HealthRegistered = "registered"
)

// ServicesResponse is the body of GET /v1/services.
type ServicesResponse struct {
	Revision int64           `json:"revision"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service with its endpoints.
type ServiceStatus struct {
	Name      string                 `json:"name"`
	Namespace string                 `json:"namespace"`
	Ports     []resource.ServicePort `json:"ports"`
	// ServiceAccounts are the identities allowed to serve it: its
	// spec.serviceAccounts, or the default when omitted.
	ServiceAccounts []string         `json:"serviceAccounts"`
	Endpoints       []EndpointStatus `json:"endpoints"`
	// TCPAddress is, for a service with tcp ports, the loopback IP where
	// every Envoy sidecar accepts connections for them: apps connect to
	// TCPAddress:<port>.
	TCPAddress string `json:"tcpAddress,omitempty"`
	// Excluded are the Workloads naming the service that may not serve
	// it: they get none of its traffic.
	Excluded []ExcludedWorkload `json:"excluded,omitempty"`
}

// ExcludedWorkload is a Workload that names a service whose
// serviceAccounts do not allow its own.
type ExcludedWorkload struct {
	Workload       string `json:"workload"`
	Address        string `json:"address"`
	ServiceAccount string `json:"serviceAccount"`
}

// EndpointStatus is one endpoint of a service.
type EndpointStatus struct {
	Address  string            `json:"address"`
	Ports    map[string]uint32 `json:"ports"`
	Labels   map[string]string `json:"labels,omitempty"`
	Locality resource.Locality `json:"locality,omitzero"`
	Workload string            `json:"workload,omitempty"`
	Health   string            `json:"health"`
}

// services lists the services of the current mesh snapshot with their
// endpoints, in one namespace with ?namespace=.
func (s *server) services(w http.ResponseWriter, r *http.Request) {
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	out := ServicesResponse{Revision: snap.Revision, Services: []ServiceStatus{}}
	for _, svc := range snap.Services {
		if ns != "" && svc.Ref.Namespace != ns {
			continue
		}
		st := ServiceStatus{Name: svc.Ref.Name, Namespace: svc.Ref.Namespace, Ports: svc.Spec.Ports, ServiceAccounts: svc.ServiceAccounts, Endpoints: []EndpointStatus{}}
		if hasTCPPort(svc.Spec.Ports) {
			st.TCPAddress = svc.Ref.TCPAddress()
		}
		for _, w := range svc.Excluded {
			st.Excluded = append(st.Excluded, ExcludedWorkload{Workload: w.Name, Address: w.Spec.Address, ServiceAccount: w.Spec.Identity()})
		}
		for _, ep := range svc.Endpoints {
			health := HealthUnknown
			if ep.Workload != "" {
				health = HealthRegistered
			}
			st.Endpoints = append(st.Endpoints, EndpointStatus{Address: ep.Address, Ports: ep.Ports, Labels: ep.Labels, Locality: ep.Locality, Workload: ep.Workload, Health: health})
		}
		out.Services = append(out.Services, st)
	}
	writeJSON(w, http.StatusOK, out)
}

// hasTCPPort says whether a service has a tcp port, which sidecars serve
// on the service's own loopback address.
func hasTCPPort(ports []resource.ServicePort) bool {
	for _, p := range ports {
		if p.Protocol == resource.ProtocolTCP {
			return true
		}
	}
	return false
}
