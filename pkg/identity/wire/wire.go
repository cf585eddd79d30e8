// Package wire is the protocol between embassy-agent and embassy-cp's
// identity service, embassy.identity.v1: gRPC on the xDS listener (TLS)
// with protobuf messages. identity.proto beside this file is the
// definition and documents the contract; identity.pb.go and
// identity_grpc.pb.go are generated from it by `make proto` and checked
// in. This file converts between the API's WorkloadSpec and the resource
// the control plane stores.
package wire

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/resource"
)

// TimeOf is ts as a time.Time; an unset ts is the zero time, as it was
// before it crossed the wire, not the Unix epoch AsTime would make of it.
func TimeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// WorkloadSpecFrom is the API form of a Workload's spec.
func WorkloadSpecFrom(s resource.WorkloadSpec) *WorkloadSpec {
	out := &WorkloadSpec{
		Address:        s.Address,
		Services:       s.Services,
		Labels:         s.Labels,
		ServiceAccount: s.ServiceAccount,
		Weight:         s.Weight,
	}
	for _, p := range s.Ports {
		out.Ports = append(out.Ports, &WorkloadPort{Name: p.Name, Port: p.Port, AppPort: p.AppPort})
	}
	if l := s.Locality; l != nil {
		out.Locality = &Locality{Region: l.Region, Zone: l.Zone, SubZone: l.SubZone}
	}
	return out
}

// Resource is the Workload spec w describes; a nil w is an empty spec.
// Empty lists and maps stay nil, as the resource decoder leaves them, so
// a refresh of an unchanged registration compares equal to the stored one.
func (w *WorkloadSpec) Resource() resource.WorkloadSpec {
	out := resource.WorkloadSpec{
		Address:        w.GetAddress(),
		ServiceAccount: w.GetServiceAccount(),
		Weight:         w.GetWeight(),
	}
	if len(w.GetServices()) > 0 {
		out.Services = w.GetServices()
	}
	if len(w.GetLabels()) > 0 {
		out.Labels = w.GetLabels()
	}
	for _, p := range w.GetPorts() {
		out.Ports = append(out.Ports, resource.WorkloadPort{Name: p.GetName(), Port: p.GetPort(), AppPort: p.GetAppPort()})
	}
	if l := w.GetLocality(); l != nil {
		out.Locality = &resource.Locality{Region: l.GetRegion(), Zone: l.GetZone(), SubZone: l.GetSubZone()}
	}
	return out
}
