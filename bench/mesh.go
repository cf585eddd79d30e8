package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/translate"
)

// Namespace is where every generated resource lives.
const Namespace = "bench"

// ServicePort is the one HTTP port of every generated service.
const ServicePort = 8080

// MeshSize says how big a generated mesh is.
type MeshSize struct {
	// Services is the number of services (svc-0000, svc-0001, ...).
	Services int
	// EndpointsPerService is the number of workloads backing each service.
	EndpointsPerService int
	// RouteEvery gives every RouteEvery-th service (starting with svc-0000)
	// a Route with an 80/20 split between version=v1 and version=v2; 0
	// means no Routes.
	RouteEvery int
	// Calls gives every service an egress list of the Calls services
	// after it (wrapping around), a call graph for config scoping; 0
	// means no lists.
	Calls int
	// Scoping is the Mesh's spec.configScoping ("" leaves it unset).
	Scoping string
	// SidecarRoutes is the Mesh's spec.sidecarRoutes ("" leaves it
	// unset: shared).
	SidecarRoutes string
}

// ServiceName is the name of the i-th generated service.
func ServiceName(i int) string { return fmt.Sprintf("svc-%04d", i) }

// WorkloadName is the name of the j-th workload of the i-th service.
func WorkloadName(i, j int) string { return fmt.Sprintf("%s-%d", ServiceName(i), j) }

// NodeIDs returns the Envoy node ids of the first n workloads, in service
// order, so every simulated proxy is a real workload with inbound config.
func (m MeshSize) NodeIDs(n int) ([]string, error) {
	if n > m.Services*m.EndpointsPerService {
		return nil, fmt.Errorf("%d proxies need at least %d workloads, the mesh has %d services of %d", n, n, m.Services, m.EndpointsPerService)
	}
	ids := make([]string, n)
	for k := range ids {
		ids[k] = WorkloadName(k/m.EndpointsPerService, k%m.EndpointsPerService) + "." + Namespace
	}
	return ids, nil
}

// Resources generates the mesh: services, their workloads, and Routes.
func (m MeshSize) Resources() ([]*resource.Resource, error) {
	var out []*resource.Resource
	for i := 0; i < m.Services; i++ {
		svc := newResource(resource.KindService, ServiceName(i), &resource.ServiceSpec{
			Ports: []resource.ServicePort{{Name: "http", Port: ServicePort, Protocol: resource.ProtocolHTTP}},
		})
		if m.Calls > 0 {
			var err error
			if svc, err = withEgress(svc, m.callees(i)); err != nil {
				return nil, err
			}
		}
		out = append(out, svc)
		for j := 0; j < m.EndpointsPerService; j++ {
			out = append(out, newResource(resource.KindWorkload, WorkloadName(i, j), workloadSpec(i, j, workloadAddress(i*m.EndpointsPerService+j))))
		}
		if m.RouteEvery > 0 && i%m.RouteEvery == 0 {
			out = append(out, newResource(resource.KindRoute, ServiceName(i), routeSpec(i, 80, 20)))
		}
	}
	return out, nil
}

// MeshResource is the mesh's Mesh resource, with the scoping setting.
func (m MeshSize) MeshResource() (*resource.Resource, error) {
	r := newResource(resource.KindMesh, "default", &resource.MeshSpec{TrustDomain: "embassy.local"})
	r.Metadata.Namespace = ""
	for _, f := range []struct{ field, value string }{{"configScoping", m.Scoping}, {"sidecarRoutes", m.SidecarRoutes}} {
		if f.value == "" {
			continue
		}
		var err error
		if r, err = redecode(r, f.field, f.value); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ScopedRoutes says whether sidecars take their outbound routes through
// Scoped RDS, one RouteConfiguration per service.
func (m MeshSize) ScopedRoutes() bool { return m.SidecarRoutes == resource.RoutesPerService }

// MinClusters is how many clusters a proxy holds at least once configured:
// every service's, or with a call graph under scoping, its callees'.
func (m MeshSize) MinClusters() int {
	if m.Calls > 0 && m.Scoping != "" && m.Scoping != "none" {
		return m.Calls
	}
	return m.Services
}

// callees are the services the i-th service calls.
func (m MeshSize) callees(i int) []string {
	var out []string
	for k := 1; k <= m.Calls && k < m.Services; k++ {
		out = append(out, ServiceName((i+k)%m.Services))
	}
	return out
}

// withEgress gives a Service an egress list naming each callee.
func withEgress(svc *resource.Resource, callees []string) (*resource.Resource, error) {
	var egress []map[string]string
	for _, c := range callees {
		egress = append(egress, map[string]string{"service": c})
	}
	return redecode(svc, "egress", egress)
}

// redecode sets one field of r's spec and reads r back the way embassyctl
// reads a file, so a field this build's schema lacks is refused with the
// decoder's own error instead of being dropped; the scoping fields are
// set this way so the harness states plainly when the control plane does
// not support scoping.
func redecode(r *resource.Resource, field string, value any) (*resource.Resource, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	doc["spec"].(map[string]any)[field] = value
	if b, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	rs, err := resource.Decode("generated "+string(r.Kind), b)
	if err != nil {
		return nil, fmt.Errorf("this control plane does not take spec.%s on a %s, so it cannot be measured: %w", field, r.Kind, err)
	}
	return rs[0], nil
}

func newResource(kind resource.Kind, name string, spec any) *resource.Resource {
	return &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       kind,
		Metadata:   resource.Metadata{Name: name, Namespace: Namespace},
		Spec:       spec,
	}
}

// workloadAddress gives the k-th workload a unique address in 10.0.0.0/8,
// never ending in .0.
func workloadAddress(k int) string {
	return fmt.Sprintf("10.%d.%d.%d", (k/254/256)%256, (k/254)%256, k%254+1)
}

func workloadSpec(i, j int, addr string) *resource.WorkloadSpec {
	version := "v1"
	if j%2 == 1 {
		version = "v2"
	}
	return &resource.WorkloadSpec{
		Address:        addr,
		Services:       []string{ServiceName(i)},
		ServiceAccount: ServiceName(i),
		Ports:          []resource.WorkloadPort{{Name: "http", Port: ServicePort}},
		Labels:         map[string]string{"app": ServiceName(i), "version": version},
		Locality:       &resource.Locality{Region: "r1", Zone: fmt.Sprintf("z%d", j%3+1)},
	}
}

func routeSpec(i int, v1, v2 int32) *resource.RouteSpec {
	return &resource.RouteSpec{
		Service: ServiceName(i),
		Rules: []resource.RouteRule{{
			Name: "split",
			Backends: []resource.Backend{
				{Subset: map[string]string{"version": "v1"}, Weight: &v1},
				{Subset: map[string]string{"version": "v2"}, Weight: &v2},
			},
		}},
	}
}

// Seed writes resources to st, either in one store commit or through an
// apply (validation and reference checks included), and says how long it
// took.
func Seed(ctx context.Context, st store.Store, rs []*resource.Resource, viaApply bool) (time.Duration, error) {
	start := time.Now()
	if viaApply {
		if _, err := apply.New(st).Apply(ctx, rs, false); err != nil {
			return 0, fmt.Errorf("applying the generated mesh: %w", err)
		}
		return time.Since(start), nil
	}
	ops := make([]store.Op, len(rs))
	for k, r := range rs {
		ops[k] = store.Op{Key: r.Key(), Resource: r}
	}
	if _, err := st.Commit(ctx, ops); err != nil {
		return 0, fmt.Errorf("committing the generated mesh: %w", err)
	}
	return time.Since(start), nil
}

// Change is one mutation of the mesh whose push is measured: the store
// ops that make it, and the xDS resource every proxy must see change.
type Change struct {
	// Name is what the report calls it: "endpoints" or "route".
	Name string
	// TypeURL and Resource name the xDS resource that changes on every
	// proxy.
	TypeURL  string
	Resource string
	Ops      []store.Op
}

// EndpointChange moves the last workload of svc-0001 to a new address; n
// makes the address unique, so repeated changes each push something.
func (m MeshSize) EndpointChange(n int) Change {
	i, j := 1, m.EndpointsPerService-1
	addr := fmt.Sprintf("10.254.%d.%d", (n/254)%256, n%254+1)
	w := newResource(resource.KindWorkload, WorkloadName(i, j), workloadSpec(i, j, addr))
	return Change{
		Name:     "endpoints",
		TypeURL:  TypeEndpoints,
		Resource: ClusterName(i),
		Ops:      []store.Op{{Key: w.Key(), Resource: w}},
	}
}

// RouteChange flips the split of svc-0000's Route: to 0/100 for even n,
// back to 80/20 for odd n.
func (m MeshSize) RouteChange(n int) Change {
	v1, v2 := int32(0), int32(100)
	if n%2 == 1 {
		v1, v2 = 80, 20
	}
	r := newResource(resource.KindRoute, ServiceName(0), routeSpec(0, v1, v2))
	return Change{
		Name:     "route",
		TypeURL:  TypeRoutes,
		Resource: m.OutboundRouteName(0),
		Ops:      []store.Op{{Key: r.Key(), Resource: r}},
	}
}

// OutboundRouteName is the RouteConfiguration of the i-th service's
// virtual hosts on an Envoy sidecar: the shared one, or per service the
// one its scope selects.
func (m MeshSize) OutboundRouteName(i int) string {
	if !m.ScopedRoutes() {
		return translate.OutboundHTTPName
	}
	return translate.OutboundRouteName(mesh.ServiceRef{Namespace: Namespace, Name: ServiceName(i)})
}

// ClusterName is the outbound cluster of the i-th service's port, named as
// the model names it.
func ClusterName(i int) string {
	svc := &mesh.Service{Ref: mesh.ServiceRef{Namespace: Namespace, Name: ServiceName(i)}}
	return mesh.Cluster{Service: svc, Port: resource.ServicePort{Port: ServicePort}}.Name()
}
