package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

// relayMesh is service echo in shop with one Workload per version; the
// two %s are the versions' ports.
const relayMesh = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [default]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-v1, namespace: shop}
spec: {address: 127.0.0.1, services: [echo], ports: [{name: grpc, port: %s}], labels: {version: v1}}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: echo-v2, namespace: shop}
spec: {address: 127.0.0.1, services: [echo], ports: [{name: grpc, port: %s}], labels: {version: v2}}
`

// relayRoute sends every call of service echo to version %s.
const relayRoute = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: shop}
spec:
  service: echo
  rules:
    - backends: [{subset: {version: %s}}]
`

// serveEcho runs an echo server answering with name and returns its port.
func serveEcho(t *testing.T, name string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	echo.Register(s, name)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	return port
}

// runRelayAgent runs web-1.shop's agent against cp with its xDS relay
// dialling xdsAddr, and returns its socket directory once it serves.
func runRelayAgent(t *testing.T, cp *controlplane.ControlPlane, xdsAddr string, maxStreams int, logs *syncbuf.Buffer) string {
	t.Helper()
	cfg := web1Config(t, cp, logs)
	cfg.XDSRelay = &XDSRelayConfig{XDSAddress: xdsAddr, MaxStreams: maxStreams}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, a)
	select {
	case <-a.Serving():
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent did not serve within 10s:\n%s", logs)
	}
	return cfg.SocketDir
}

// proxylessThroughRelay is gRPC's own xDS client with the bootstrap
// embassyctl writes for the relay in dir, dialling service echo.
func proxylessThroughRelay(t *testing.T, dir string) *grpc.ClientConn {
	t.Helper()
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "web-1.shop", XDSRelayDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"unix://`+filepath.Join(dir, dataplane.XDSRelaySocket)+`"`) {
		t.Fatalf("the relay bootstrap does not name the relay socket:\n%s", js)
	}
	rb, err := xds.NewXDSResolverWithConfigForTesting(js)
	if err != nil {
		t.Fatal(err)
	}
	// Plaintext calls: the echo servers are not in the mesh's mTLS.
	cc, err := grpc.NewClient("xds:///echo.shop:50051", grpc.WithResolvers(rb), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// untilAnswers polls calls over cc until server name answers one.
func untilAnswers(t *testing.T, cc *grpc.ClientConn, name string, logs *syncbuf.Buffer) {
	t.Helper()
	poll.UntilState(t, "a call answered by "+name, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got, err := echo.Call(ctx, cc, "hi")
		return got == name, fmt.Sprintf("answered by %q, error %v; the log:\n%s", got, err, logs)
	})
}

// gRPC's own xDS client, whose bootstrap names only the agent's relay
// socket, gets its configuration from the real control plane through the
// relay, and a change after it; the control plane sees the stream as the
// workload's proxyless client, authorized by the agent's SVID.
func TestXDSRelayServesAProxylessClient(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startPolicyCP(t, 5*time.Millisecond, fmt.Sprintf(relayMesh, serveEcho(t, "v1"), serveEcho(t, "v2"))+"---\n"+fmt.Sprintf(relayRoute, "v1"), logs)
	dir := runRelayAgent(t, cp, cp.XDSAddr(), 0, logs)
	cc := proxylessThroughRelay(t, dir)

	// Like the agent's other sockets: its group only.
	if fi, err := os.Stat(filepath.Join(dir, dataplane.XDSRelaySocket)); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != socketMode {
		t.Errorf("the relay socket: %v, %v; want a socket of mode %o", fi, err, socketMode)
	}
	untilAnswers(t, cc, "v1", logs)
	applyDocs(t, cp, fmt.Sprintf(relayRoute, "v2"))
	untilAnswers(t, cc, "v2", logs)

	var seen bool
	for _, p := range cp.XDS().Proxies() {
		if p.ID == "web-1.shop" && p.Flavour == dataplane.FlavourProxyless {
			seen = true
			if !strings.HasSuffix(p.Identity, "/ns/shop/sa/web") {
				t.Errorf("the relayed stream's identity is %q, want the workload's SVID", p.Identity)
			}
		}
	}
	if !seen {
		t.Errorf("the control plane lists no proxyless web-1.shop: %+v", cp.XDS().Proxies())
	}
}

// dialRelay is a plain ADS client of the relay socket in dir.
func dialRelay(t *testing.T, dir string) discovery.AggregatedDiscoveryServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+filepath.Join(dir, dataplane.XDSRelaySocket), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return discovery.NewAggregatedDiscoveryServiceClient(cc)
}

func relayNode(id string) *core.Node {
	return &core.Node{Id: id, UserAgentName: "relay-test"}
}

// firstAnswer opens a SotW stream for node's Clusters and returns the
// stream and the error of its first answer.
func firstAnswer(t *testing.T, ads discovery.AggregatedDiscoveryServiceClient, node string) (discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: relayNode(node), TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	return st, err
}

// The relay speaks for its own workload only: a stream, SotW or Delta,
// whose node id is another's is refused, naming the id it expects, and
// so is a later request that switches nodes; the workload's own gets its
// answer.
func TestXDSRelayRefusesOtherNodes(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startPolicyCP(t, 5*time.Millisecond, fmt.Sprintf(relayMesh, "1001", "1002"), logs)
	ads := dialRelay(t, runRelayAgent(t, cp, cp.XDSAddr(), 0, logs))
	refused := func(what string, err error) {
		t.Helper()
		// The relay's own words: the control plane's refusal would name
		// both ids too, but only after the request had left the agent.
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `"db-1.shop"`) || !strings.Contains(err.Error(), "relays the xDS of workload web-1.shop only") {
			t.Errorf("%s: %v, want the relay's PermissionDenied naming db-1.shop and the expected web-1.shop", what, err)
		}
	}

	_, err := firstAnswer(t, ads, "db-1.shop")
	refused("SotW, another node", err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	delta, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := delta.Send(&discovery.DeltaDiscoveryRequest{Node: relayNode("db-1.shop"), TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	_, err = delta.Recv()
	refused("Delta, another node", err)

	own, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Send(&discovery.DeltaDiscoveryRequest{Node: relayNode("web-1.shop"), TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	if resp, err := own.Recv(); err != nil || resp.GetTypeUrl() != resourcev3.ClusterType {
		t.Errorf("the workload's own Delta stream: %v, %v; want its Clusters\n%s", resp, err, logs)
	}

	st, err := firstAnswer(t, ads, "web-1.shop")
	if err != nil {
		t.Fatalf("the workload's own stream: %v\n%s", err, logs)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: relayNode("db-1.shop"), TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = st.Recv()
	}
	refused("SotW, a later request for another node", err)
}

// When the control plane's connection breaks, the relayed stream ends
// with Unavailable, so the application reconnects; its next stream is
// answered once the control plane is reachable again. Streams beyond the
// limit are refused with the flag that raises it.
func TestXDSRelayEndsStreamsWhoseUpstreamBreaks(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startPolicyCP(t, 5*time.Millisecond, fmt.Sprintf(relayMesh, "1001", "1002"), logs)
	g := newGate(t, cp.XDSAddr())
	ads := dialRelay(t, runRelayAgent(t, cp, g.addr(), 2, logs))

	st, err := firstAnswer(t, ads, "web-1.shop")
	if err != nil {
		t.Fatalf("first stream: %v\n%s", err, logs)
	}
	second, err := firstAnswer(t, ads, "web-1.shop")
	if err != nil {
		t.Fatalf("second stream: %v\n%s", err, logs)
	}
	if _, err := firstAnswer(t, ads, "web-1.shop"); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--xds-relay-max-streams") {
		t.Errorf("a third stream with a limit of 2: %v, want ResourceExhausted naming --xds-relay-max-streams", err)
	}

	g.setOpen(false)
	for _, s := range []discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient{st, second} {
		for err = nil; err == nil; {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unavailable {
			t.Errorf("a relayed stream whose upstream broke ended with %v, want Unavailable", err)
		}
	}
	g.setOpen(true)
	if _, err := firstAnswer(t, ads, "web-1.shop"); err != nil {
		t.Errorf("a new stream once the control plane is reachable again: %v\n%s", err, logs)
	}
}

// A rotated SVID closes the relay's connection, which ends its streams,
// and the next stream dials with the new SVID; an expired one (no SVID to
// present) keeps the connection. followRotations delivers each published
// identity to identityChanged.
func TestXDSRelayRedialsAfterARotation(t *testing.T) {
	first := &x509svid.SVID{ID: testID}
	pub := &publisher{cur: &Identity{ID: testID, SVID: first}, changed: make(chan struct{})}
	var dialled []*x509svid.SVID
	dial := func(_ context.Context, id *Identity) (*grpc.ClientConn, error) {
		dialled = append(dialled, id.SVID)
		return grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	r := NewXDSRelay("web-1.shop", dial, pub, 0, nil)
	ctx := context.Background()
	conn, err := r.upstream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.identityChanged(&Identity{ID: testID})
	if again, _ := r.upstream(ctx); again != conn || conn.GetState() == connectivity.Shutdown {
		t.Fatal("an expired SVID closed the relay's connection")
	}
	r.identityChanged(&Identity{ID: testID, SVID: first})
	if again, _ := r.upstream(ctx); again != conn {
		t.Fatal("the same SVID closed the relay's connection")
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.followRotations(rctx) }()
	defer func() { cancel(); <-done }()
	second := &x509svid.SVID{ID: testID}
	pub.publish(&Identity{ID: testID, SVID: second})
	poll.Until(t, "the rotation to close the relay's connection", func() bool { return conn.GetState() == connectivity.Shutdown })
	next, err := r.upstream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if next == conn || len(dialled) != 2 || dialled[1] != second {
		t.Errorf("after the rotation the relay dialled with %v, want a new connection presenting the new SVID", dialled)
	}
}
