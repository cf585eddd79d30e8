package agent

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/extauthz"
)

// policyServer is a go-control-plane ADS server over a snapshot cache, in
// plaintext on a loopback port, that records every request it receives.
type policyServer struct {
	cache    cachev3.SnapshotCache
	addr     string
	requests chan *discovery.DiscoveryRequest
	opened   chan struct{} // one value per stream opened
}

func startPolicyServer(t *testing.T) *policyServer {
	t.Helper()
	ps := &policyServer{
		cache:    cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil),
		requests: make(chan *discovery.DiscoveryRequest, 1000),
		opened:   make(chan struct{}, 100),
	}
	var sent sync.Map // stream id → version of the last response
	cb := serverv3.CallbackFuncs{
		StreamOpenFunc: func(context.Context, int64, string) error {
			ps.opened <- struct{}{}
			return nil
		},
		StreamRequestFunc: func(id int64, req *discovery.DiscoveryRequest) error {
			ps.requests <- proto.Clone(req).(*discovery.DiscoveryRequest)
			if req.GetErrorDetail() != nil {
				// As embassy-cp does: a NACK carries the last accepted
				// version, which would make the cache send the rejected
				// one straight back; waiting for new content instead.
				if v, ok := sent.Load(id); ok {
					req.VersionInfo = v.(string)
				}
			}
			return nil
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
			sent.Store(id, resp.GetVersionInfo())
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := serverv3.NewServer(ctx, ps.cache, cb)
	g := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(g, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() { g.Serve(lis); close(done) }()
	t.Cleanup(func() { cancel(); g.Stop(); <-done })
	return ps
}

// dial is an XDSDialFunc in plaintext to the server.
func (ps *policyServer) dial(context.Context, *Identity) (*grpc.ClientConn, error) {
	return grpc.NewClient(ps.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// set publishes the node's ExtensionConfigs at version.
func (ps *policyServer) set(t *testing.T, node, version string, res ...*core.TypedExtensionConfig) {
	t.Helper()
	list := make([]types.Resource, len(res))
	for i, r := range res {
		list[i] = r
	}
	snap, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{resourcev3.ExtensionConfigType: list})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.cache.SetSnapshot(context.Background(), node, snap); err != nil {
		t.Fatal(err)
	}
}

// answer waits for the request answering version: an ACK of it, or a
// NACK of it (which carries the last accepted version instead, so it is
// told by its error_detail and nonce).
func (ps *policyServer) answer(t *testing.T, wantNACK bool, version string) *discovery.DiscoveryRequest {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case req := <-ps.requests:
			if req.GetResponseNonce() == "" {
				continue
			}
			if wantNACK && req.GetErrorDetail() != nil {
				return req
			}
			if !wantNACK && req.GetErrorDetail() == nil && req.GetVersionInfo() == version {
				return req
			}
			if !wantNACK && req.GetErrorDetail() != nil {
				t.Fatalf("NACK %q while waiting for the ACK of %s", req.GetErrorDetail().GetMessage(), version)
			}
		case <-deadline:
			t.Fatalf("no answer to version %s within 10s", version)
		}
	}
}

// policyResource wraps a bundle as the control plane sends it.
func policyResource(t *testing.T, name string, b *compile.Bundle) *core.TypedExtensionConfig {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return rawPolicyResource(t, name, raw)
}

func rawPolicyResource(t *testing.T, name string, raw []byte) *core.TypedExtensionConfig {
	t.Helper()
	a, err := anypb.New(wrapperspb.Bytes(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &core.TypedExtensionConfig{Name: dataplane.AuthzExtensionPrefix + name, TypedConfig: a}
}

// compilePolicy compiles a package envoy.authz module.
func compilePolicy(t *testing.T, name, rego string, edit ...func(*resource.AuthorizationPolicySpec)) *compile.Bundle {
	t.Helper()
	return bundletest.Compile(t, name, "package envoy.authz\n\n"+rego, edit...)
}

// pathsOK is shop/paths's Rego: only the path /ok is allowed.
const pathsOK = "default allow := false\n\nallow if input.attributes.request.http.path == \"/ok\""

// startAuthzAgent starts an agent against cp that takes its policies from
// a new policy server and writes its stats every 20ms, with tweak's
// further changes, and returns the policy server, the agent and a client
// of its authz.sock.
func startAuthzAgent(t *testing.T, cp *fakeCP, tweak func(*Config)) (*policyServer, *testAgent, authv3.AuthorizationClient) {
	t.Helper()
	ps := startPolicyServer(t)
	ta := startAgent(t, cp, func(c *Config) {
		c.Authz = &AuthzConfig{Dial: ps.dial, StatsInterval: 20 * time.Millisecond}
		if tweak != nil {
			tweak(c)
		}
	})
	return ps, ta, authzClient(t, ta.dir)
}

// authzClient dials the agent's authz.sock.
func authzClient(t *testing.T, dir string) authv3.AuthorizationClient {
	t.Helper()
	conn := grpctest.Dial(t, "unix://"+filepath.Join(dir, dataplane.AuthzSocket))
	return authv3.NewAuthorizationClient(conn)
}

// check asks for a decision on method path and returns the gRPC status
// code of the answer and its HTTP status (0 for an allow).
func check(t *testing.T, c authv3.AuthorizationClient, method, path string) (int32, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, checkRequest(method, path))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() == codeOK {
		return codeOK, 0
	}
	return resp.GetStatus().GetCode(), extauthz.EnvoyStatus(resp)
}

func checkRequest(method, path string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: "spiffe://test.embassy/ns/shop/sa/client"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "web.shop",
			Headers: map[string]string{":method": method, ":path": path, "x-request-id": "req-1", "authorization": "Bearer s3cret"},
		}},
	}}
}

// lines returns the log lines holding every one of subs.
func lines(log string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}
