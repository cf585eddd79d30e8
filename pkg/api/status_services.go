package api

import (
	"net/http"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/resource"
)

// services lists the services of the current mesh snapshot with their
// endpoints, in one namespace with ?namespace=.
func (s *server) services(w http.ResponseWriter, r *http.Request) {
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	out := apiwire.ServicesResponse{Revision: snap.Revision, Services: []apiwire.ServiceStatus{}}
	for _, svc := range snap.Services {
		if ns != "" && svc.Ref.Namespace != ns {
			continue
		}
		st := apiwire.ServiceStatus{Name: svc.Ref.Name, Namespace: svc.Ref.Namespace, Ports: svc.Spec.Ports, ServiceAccounts: svc.ServiceAccounts, Endpoints: []apiwire.EndpointStatus{}}
		if hasTCPPort(svc.Spec.Ports) {
			st.TCPAddress = svc.Ref.TCPAddress()
		}
		for _, w := range svc.Excluded {
			st.Excluded = append(st.Excluded, apiwire.ExcludedWorkload{Workload: w.Name, Address: w.Spec.Address, ServiceAccount: w.Spec.Identity()})
		}
		for _, ep := range svc.Endpoints {
			health := apiwire.HealthUnknown
			if ep.Workload != "" {
				health = apiwire.HealthRegistered
			}
			st.Endpoints = append(st.Endpoints, apiwire.EndpointStatus{Address: ep.Address, Ports: ep.Ports, Labels: ep.Labels, Locality: ep.Locality, Workload: ep.Workload, Health: health})
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
