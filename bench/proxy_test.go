package bench

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func edsCluster(t *testing.T, name string) []byte {
	return marshal(t, &clusterv3.Cluster{Name: name, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{}}})
}

func cla(t *testing.T, name string, port uint32) []byte {
	return marshal(t, &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}}}}})
}

func heldNames(p *proxy, typeURL string) []string {
	var out []string
	for n := range p.types[typeURL].res {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestSotWResponseRules drives one simulated proxy through the xDS rules
// for state-of-the-world responses: a Cluster response is the complete
// state (a cluster left out is gone, and so are its endpoints), an EDS
// response may carry just the changed ClusterLoadAssignment (the proxy
// keeps the others, and sees the armed change in it).
func TestSotWResponseRules(t *testing.T) {
	f := &Fleet{dec: newDecoder(), ctx: t.Context(), obs: make(chan Observation, 4), readyCh: make(chan int, 4)}
	p := newProxy(f, 0, "svc-0000-0."+Namespace)

	ack, sub := p.receiveSotW(wireResponse{typeURL: TypeClusters, version: "c1", nonce: "1", values: [][]byte{edsCluster(t, "a"), edsCluster(t, "b")}})
	if ack.ErrorDetail != nil || sub == nil || !slices.Equal(sub.ResourceNames, []string{"a", "b"}) {
		t.Fatalf("after CDS: ack %v, subscription %v; want an ACK and a subscription to a and b", ack, sub)
	}
	p.receiveSotW(wireResponse{typeURL: TypeEndpoints, version: "e1", nonce: "2", values: [][]byte{cla(t, "a", 1), cla(t, "b", 1)}})
	if err := p.arm(1, TypeEndpoints, "b"); err != nil {
		t.Fatal(err)
	}

	// Only b changed: the response carries b alone.
	ack, _ = p.receiveSotW(wireResponse{typeURL: TypeEndpoints, version: "e2", nonce: "3", values: [][]byte{cla(t, "b", 2)}})
	if ack.ErrorDetail != nil || ack.VersionInfo != "e2" {
		t.Fatalf("partial EDS response not ACKed: %v", ack)
	}
	p.acked(TypeEndpoints)
	if got := heldNames(p, TypeEndpoints); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after a partial EDS response the proxy holds %v; want a kept and b updated", got)
	}
	select {
	case o := <-f.obs:
		if o.Seq != 1 {
			t.Errorf("observed seq %d, want 1", o.Seq)
		}
	default:
		t.Error("the change to b in a partial response was not observed")
	}

	// A Cluster response without a is the complete state: a is gone,
	// and the proxy stops holding its endpoints.
	_, sub = p.receiveSotW(wireResponse{typeURL: TypeClusters, version: "c2", nonce: "4", values: [][]byte{edsCluster(t, "b")}})
	if got := heldNames(p, TypeClusters); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after a CDS response of b alone the proxy holds clusters %v", got)
	}
	if sub == nil || !slices.Equal(sub.ResourceNames, []string{"b"}) {
		t.Errorf("subscription after a was dropped: %v, want [b]", sub)
	}
	if got := heldNames(p, TypeEndpoints); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after its cluster went away the proxy still holds endpoints %v", got)
	}

	// A resource that does not decode is NACKed, and nothing changes.
	ack, _ = p.receiveSotW(wireResponse{typeURL: TypeClusters, version: "c3", nonce: "5", values: [][]byte{{0xff}}})
	if ack.ErrorDetail == nil || ack.VersionInfo != "c2" {
		t.Errorf("a bad Cluster got %v; want a NACK at the held version c2", ack)
	}
	if got := heldNames(p, TypeClusters); !slices.Equal(got, []string{"b"}) {
		t.Errorf("a NACKed response changed the clusters held to %v", got)
	}
}

func scope(t *testing.T, name, rc string) []byte {
	return marshal(t, &routev3.ScopedRouteConfiguration{Name: name, RouteConfigurationName: rc, Key: &routev3.ScopedRouteConfiguration_Key{
		Fragments: []*routev3.ScopedRouteConfiguration_Key_Fragment{{Type: &routev3.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: name}}}}})
}

func routes(t *testing.T, name, cluster string) []byte {
	return marshal(t, &routev3.RouteConfiguration{Name: name, VirtualHosts: []*routev3.VirtualHost{{Name: name, Domains: []string{name}, Routes: []*routev3.Route{{
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}}}}}}})
}

// TestSotWScopedRoutesRules drives one simulated proxy through Scoped RDS
// as Envoy applies it: a scope response is the complete state (a scope
// left out is gone, and so is the subscription to its routes), each scope
// makes the proxy subscribe to its RouteConfiguration, and an RDS
// response may carry one RouteConfiguration alone.
func TestSotWScopedRoutesRules(t *testing.T) {
	f := &Fleet{cfg: FleetConfig{ScopedRoutes: true}, dec: newDecoder(), ctx: t.Context(), obs: make(chan Observation, 4), readyCh: make(chan int, 4)}
	p := newProxy(f, 0, "svc-0000-0."+Namespace)

	ack, sub := p.receiveSotW(wireResponse{typeURL: TypeScopedRoutes, version: "s1", nonce: "1", values: [][]byte{scope(t, "a", "rc-a"), scope(t, "b", "rc-b")}})
	if ack.ErrorDetail != nil || ack.ResourceNames != nil || sub == nil || sub.TypeUrl != TypeRoutes || !slices.Equal(sub.ResourceNames, []string{"rc-a", "rc-b"}) {
		t.Fatalf("after SRDS: ack %v, subscription %v; want a wildcard ACK and an RDS subscription to rc-a and rc-b", ack, sub)
	}
	p.receiveSotW(wireResponse{typeURL: TypeRoutes, version: "r1", nonce: "2", values: [][]byte{routes(t, "rc-a", "c1"), routes(t, "rc-b", "c1")}})
	if err := p.arm(1, TypeRoutes, "rc-b"); err != nil {
		t.Fatal(err)
	}
	// One service's routes changed: the RDS response carries them alone.
	p.receiveSotW(wireResponse{typeURL: TypeRoutes, version: "r2", nonce: "3", values: [][]byte{routes(t, "rc-b", "c2")}})
	p.acked(TypeRoutes)
	if got := heldNames(p, TypeRoutes); !slices.Equal(got, []string{"rc-a", "rc-b"}) {
		t.Errorf("after a one-route RDS response the proxy holds %v", got)
	}
	select {
	case <-f.obs:
	default:
		t.Error("the change to rc-b was not observed")
	}

	// A scope response without a removes scope a and its routes.
	_, sub = p.receiveSotW(wireResponse{typeURL: TypeScopedRoutes, version: "s2", nonce: "4", values: [][]byte{scope(t, "b", "rc-b")}})
	if got := heldNames(p, TypeScopedRoutes); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after a scope response of b alone the proxy holds scopes %v", got)
	}
	if sub == nil || !slices.Equal(sub.ResourceNames, []string{"rc-b"}) {
		t.Errorf("RDS subscription after scope a went: %v, want [rc-b]", sub)
	}
	if got := heldNames(p, TypeRoutes); !slices.Equal(got, []string{"rc-b"}) {
		t.Errorf("after its scope went away the proxy still holds routes %v", got)
	}
}
