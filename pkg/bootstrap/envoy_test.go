package bootstrap_test

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
)

func TestEnvoyDefaultsValidateDeeply(t *testing.T) {
	b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-v1.default", TrustDomain: "example.org", Metadata: map[string]string{"team": "demo"}})
	if err != nil {
		t.Fatal(err)
	}
	validateDeep(t, b)

	if got := b.GetNode().GetId(); got != "echo-v1.default" {
		t.Errorf("node id = %q", got)
	}
	if got := b.GetNode().GetCluster(); got != "default" {
		t.Errorf("node cluster = %q, want the namespace", got)
	}
	fields := b.GetNode().GetMetadata().GetFields()
	if got := fields[dataplane.FlavourKey].GetStringValue(); got != dataplane.FlavourEnvoy {
		t.Errorf("flavour = %q", got)
	}
	if got := fields["team"].GetStringValue(); got != "demo" {
		t.Errorf("metadata team = %q", got)
	}

	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType().String() != "GRPC" || ads.GetTransportApiVersion().String() != "V3" {
		t.Errorf("ads config = %v", ads)
	}
	if got := ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName(); got != dataplane.XDSClusterName {
		t.Errorf("ads cluster = %q", got)
	}
	if b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Error("lds and cds must come over ADS")
	}
	if b.GetDynamicResources().GetLdsConfig().GetResourceApiVersion().String() != "V3" {
		t.Error("lds resource api version is not V3")
	}

	c := xdsCluster(t, b)
	if c.GetType() != clusterv3.Cluster_STATIC {
		t.Errorf("cluster type for an IP = %v, want STATIC", c.GetType())
	}
	sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 15010 {
		t.Errorf("xds endpoint = %v", sa)
	}
	var hpo httpv3.HttpProtocolOptions
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&hpo); err != nil {
		t.Fatalf("http protocol options: %v", err)
	}
	if hpo.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Error("xds cluster does not force HTTP/2")
	}

	admin := b.GetAdmin().GetAddress().GetPipe()
	if admin.GetPath() != "/run/embassy/echo-v1.default/envoy-admin.sock" || admin.GetMode() != 0o600 {
		t.Errorf("admin = %v, want the owner's socket in the workload's directory", b.GetAdmin().GetAddress())
	}
}

func TestEnvoyHostnameUsesStrictDNS(t *testing.T) {
	b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "a.b", XDSAddress: "embassy-cp.embassy.svc:15010", AdminAddress: "[::1]:9901", TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	validateDeep(t, b)
	if got := xdsCluster(t, b).GetType(); got != clusterv3.Cluster_STRICT_DNS {
		t.Errorf("cluster type for a host name = %v, want STRICT_DNS", got)
	}
	if got := b.GetAdmin().GetAddress().GetSocketAddress().GetAddress(); got != "::1" {
		t.Errorf("admin address = %q", got)
	}
}

func TestEnvoyRefusesBadOptions(t *testing.T) {
	cases := []struct {
		name string
		o    bootstrap.EnvoyOptions
		want string
	}{
		{"no namespace", bootstrap.EnvoyOptions{NodeID: "echo"}, "expected <workload>.<namespace>"},
		{"three parts", bootstrap.EnvoyOptions{NodeID: "a.b.c"}, "expected <workload>.<namespace>"},
		{"empty workload", bootstrap.EnvoyOptions{NodeID: ".default"}, "workload is empty"},
		{"upper case", bootstrap.EnvoyOptions{NodeID: "Echo.default"}, "is not a DNS label"},
		{"leading dash", bootstrap.EnvoyOptions{NodeID: "echo.-ns"}, "namespace \"-ns\" is not a DNS label"},
		{"long label", bootstrap.EnvoyOptions{NodeID: strings.Repeat("a", 64) + ".ns"}, "longer than 63"},
		{"admin on all interfaces", bootstrap.EnvoyOptions{NodeID: "a.b", AdminAddress: "0.0.0.0:15100"}, "must be a loopback IP"},
		{"admin on a LAN IP", bootstrap.EnvoyOptions{NodeID: "a.b", AdminAddress: "10.0.0.1:15100"}, "must be a loopback IP"},
		{"admin by name", bootstrap.EnvoyOptions{NodeID: "a.b", AdminAddress: "localhost:15100"}, "must be a loopback IP"},
		{"admin on the outbound port", bootstrap.EnvoyOptions{NodeID: "a.b", AdminAddress: "127.0.0.1:15001"}, "is the sidecar's outbound HTTP listener"},
		{"xds without port", bootstrap.EnvoyOptions{NodeID: "a.b", XDSAddress: "127.0.0.1"}, "expected host:port"},
		{"xds port zero", bootstrap.EnvoyOptions{NodeID: "a.b", XDSAddress: "127.0.0.1:0"}, "port must be a number"},
		{"reserved metadata", bootstrap.EnvoyOptions{NodeID: "a.b", Metadata: map[string]string{dataplane.FlavourKey: "x"}}, "reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bootstrap.Envoy(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEnvoyYAMLRoundTrips(t *testing.T) {
	o := bootstrap.EnvoyOptions{NodeID: "reviews-v2.shop", XDSAddress: "10.0.0.5:15010", TrustDomain: "example.org", Metadata: map[string]string{"version": "v2"}}
	want, err := bootstrap.Envoy(o)
	if err != nil {
		t.Fatal(err)
	}
	y, err := bootstrap.EnvoyYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	// Envoy's own docs spell fields in snake_case; so must we.
	for _, s := range []string{"dynamic_resources:", "ads_config:", "typed_extension_protocol_options:", "http2_protocol_options: {}"} {
		if !strings.Contains(string(y), s) {
			t.Errorf("YAML lacks %q:\n%s", s, y)
		}
	}
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	got := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, got); err != nil {
		t.Fatalf("YAML does not parse back: %v\n%s", err, y)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("round trip differs:\n got %v\nwant %v", got, want)
	}
	validateDeep(t, got)
}

// xdsCluster finds the static cluster that reaches the control plane.
func xdsCluster(t *testing.T, b *bootstrapv3.Bootstrap) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == dataplane.XDSClusterName {
			return c
		}
	}
	t.Fatalf("no static cluster %q", dataplane.XDSClusterName)
	return nil
}
