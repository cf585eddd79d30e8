package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/xds"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
)

const listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

// recordingADS answers no request: it passes the first request of every
// stream to the test, which is enough to prove a client parsed its
// bootstrap, dialled the server it names and said who it is.
type recordingADS struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	first chan *discoveryv3.DiscoveryRequest
}

func (r *recordingADS) StreamAggregatedResources(s discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	req, err := s.Recv()
	if err != nil {
		return err
	}
	select {
	case r.first <- req:
	case <-s.Context().Done():
	}
	<-s.Context().Done()
	return nil
}

func startADS(t *testing.T) (*recordingADS, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ads := &recordingADS{first: make(chan *discoveryv3.DiscoveryRequest, 4)}
	s := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s, ads)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return ads, lis.Addr().String()
}

// awaitListenerRequest waits, bounded, for a stream asking for the named
// Listener and returns its first request.
func awaitListenerRequest(t *testing.T, ads *recordingADS, name string) *discoveryv3.DiscoveryRequest {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case req := <-ads.first:
			if req.GetTypeUrl() == listenerType && reflect.DeepEqual(req.GetResourceNames(), []string{name}) {
				return req
			}
			t.Logf("ignoring request for %s %v", req.GetTypeUrl(), req.GetResourceNames())
		case <-deadline:
			t.Fatalf("no ADS request for Listener %q within 10s: grpc-go did not accept the bootstrap", name)
			return nil
		}
	}
}

// TestGRPCJSONAcceptedByGRPCClient feeds the bootstrap to grpc-go's own
// parser (grpc 1.85 has no exported parser, so it goes through the xDS
// resolver's bootstrap hook) and checks the request that reaches ADS.
func TestGRPCJSONAcceptedByGRPCClient(t *testing.T) {
	ads, addr := startADS(t)
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "echo-client.default", XDSAddress: addr, Metadata: map[string]string{"team": "demo"}})
	if err != nil {
		t.Fatal(err)
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

	req := awaitListenerRequest(t, ads, "echo.default:50051")
	if got := req.GetNode().GetId(); got != "echo-client.default" {
		t.Errorf("node id = %q", got)
	}
	fields := req.GetNode().GetMetadata().GetFields()
	if got := fields[dataplane.FlavourKey].GetStringValue(); got != dataplane.FlavourProxyless {
		t.Errorf("flavour = %q", got)
	}
	if got := fields["team"].GetStringValue(); got != "demo" {
		t.Errorf("team = %q", got)
	}
}

// TestGRPCJSONServerListenerTemplate checks that an xDS-enabled gRPC server
// built from the bootstrap asks for the Listener named by the template.
func TestGRPCJSONServerListenerTemplate(t *testing.T) {
	ads, addr := startADS(t)
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "echo-v1.default", XDSAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := xds.NewGRPCServer(xds.BootstrapContentsForTesting(js))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	go func() { _ = s.Serve(lis) }()

	awaitListenerRequest(t, ads, fmt.Sprintf(dataplane.ServerListenerTemplate, lis.Addr().String()))
}

func TestGRPCJSONShape(t *testing.T) {
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      "127.0.0.1:15010",
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []any{"ignore_resource_deletion"},
		}},
		"node":                                   map[string]any{"id": "n", "metadata": map[string]any{"embassy.flavour": "proxyless"}},
		"server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%s",
		"certificate_providers":                  fileWatcher("/run/embassy/n"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bootstrap =\n%s\nwant %v", js, want)
	}
}

func TestGRPCJSONRefusesBadOptions(t *testing.T) {
	for _, o := range []bootstrap.GRPCOptions{
		{},
		{NodeID: "n", XDSAddress: "no-port"},
		{NodeID: "n", Metadata: map[string]string{dataplane.FlavourKey: "envoy"}},
	} {
		if _, err := bootstrap.GRPCJSON(o); err == nil {
			t.Errorf("GRPCJSON(%+v) accepted", o)
		} else if !strings.Contains(err.Error(), "node id") && !strings.Contains(err.Error(), "xds address") && !strings.Contains(err.Error(), "reserved") {
			t.Errorf("unclear error: %v", err)
		}
	}
}
