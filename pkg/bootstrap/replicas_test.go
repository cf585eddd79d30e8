package bootstrap_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/xds"

	"embassy.dev/embassy/pkg/bootstrap"
)

// deadAddr is a loopback address nothing listens on any more.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// TestGRPCJSONFallsBackToTheNextReplica lists a dead replica first and a
// live one second: grpc-go's own xDS client, given the bootstrap, asks
// the second for its Listener.
func TestGRPCJSONFallsBackToTheNextReplica(t *testing.T) {
	ads, live := startADS(t)
	dead := deadAddr(t)
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "echo-client.default", XDSAddress: dead + "," + live})
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		XDSServers []struct {
			ServerURI string `json:"server_uri"`
		} `json:"xds_servers"`
	}
	if err := json.Unmarshal(js, &parsed); err != nil || len(parsed.XDSServers) != 2 ||
		parsed.XDSServers[0].ServerURI != dead || parsed.XDSServers[1].ServerURI != live {
		t.Fatalf("xds_servers = %+v (%v), want %s then %s", parsed.XDSServers, err, dead, live)
	}
	rb, err := xds.NewXDSResolverWithConfigForTesting(js)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("xds:///echo.default:50051", grpc.WithResolvers(rb), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	awaitListenerRequest(t, ads, "echo.default:50051")
}

// TestEnvoyXDSClusterListsEveryReplica gives Envoy three replicas: one
// endpoint each, in order, STATIC for IPs and STRICT_DNS once a name is
// among them.
func TestEnvoyXDSClusterListsEveryReplica(t *testing.T) {
	for _, tc := range []struct {
		addrs string
		want  clusterv3.Cluster_DiscoveryType
	}{
		{"10.0.0.1:15010,10.0.0.2:15010,[fd00::3]:15010", clusterv3.Cluster_STATIC},
		{"10.0.0.1:15010, cp-2.mesh.internal:15010", clusterv3.Cluster_STRICT_DNS},
	} {
		b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-1.default", XDSAddress: tc.addrs, TrustDomain: "example.org"})
		if err != nil {
			t.Fatalf("%s: %v", tc.addrs, err)
		}
		c := xdsCluster(t, b)
		if c.GetType() != tc.want {
			t.Errorf("%s: cluster type %v, want %v", tc.addrs, c.GetType(), tc.want)
		}
		var got []string
		for _, ep := range c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints() {
			sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
			got = append(got, net.JoinHostPort(sa.GetAddress(), "15010"))
		}
		want := strings.Split(strings.ReplaceAll(tc.addrs, " ", ""), ",")
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("endpoints %v, want %v", got, want)
		}
	}
}

func TestSeveralXDSAddressesRefusedClearly(t *testing.T) {
	for addrs, want := range map[string]string{
		"10.0.0.1:15010,":               "an address is empty",
		"10.0.0.1:15010,,10.0.0.2:1":    "an address is empty",
		"10.0.0.1:15010,10.0.0.1:15010": "listed twice",
		"10.0.0.1:15010,10.0.0.2":       "expected host:port",
		"10.0.0.1:15010,10.0.0.2:0":     "port must be a number",
	} {
		if _, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "a.default", XDSAddress: addrs}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("grpc %q: %v, want %q", addrs, err, want)
		}
		if _, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "a.default", XDSAddress: addrs, Insecure: true}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("envoy %q: %v, want %q", addrs, err, want)
		}
	}
}

func FuzzSeveralXDSAddresses(f *testing.F) {
	for _, s := range []string{"127.0.0.1:15010", "a:1,b:2", "[::1]:15010, localhost:15010", ",", "a:1,a:1", "[::1:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addrs string) {
		js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "a.default", XDSAddress: addrs, Insecure: true})
		if err != nil {
			return
		}
		var parsed struct {
			XDSServers []json.RawMessage `json:"xds_servers"`
		}
		if err := json.Unmarshal(js, &parsed); err != nil || len(parsed.XDSServers) != strings.Count(addrs, ",")+1 {
			t.Fatalf("%q: %d servers (%v), want one per address", addrs, len(parsed.XDSServers), err)
		}
	})
}
