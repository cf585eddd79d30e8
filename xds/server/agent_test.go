package server

import (
	"context"
	"slices"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/xds/cache"
	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

const (
	echoNode       = "echo-a.demo"
	echoListener   = "grpc/server?xds.resource.listening_address=127.0.0.1:50051"
	echoPolicyRev  = "rev-echo-methods"
	echoPolicyName = "embassy.authz/demo/echo-methods"
)

// firstResponse opens an ADS stream, sends req and returns the stream
// with its first response.
func firstResponse(t *testing.T, h *harness, ctx context.Context, req *discovery.DiscoveryRequest) (discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, *discovery.DiscoveryResponse) {
	t.Helper()
	stream, err := h.ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("%s of %s: %v", req.GetTypeUrl(), req.GetNode().GetId(), err)
	}
	return stream, resp
}

// TestAgentAndProxylessServerShareANodeID runs a proxyless gRPC server and
// its workload's agent under the same node id, in both connection orders:
// each gets its own configuration and status entry, the agent's ACK is
// recorded on its own entry, and the first leaving keeps the other served.
func TestAgentAndProxylessServerShareANodeID(t *testing.T) {
	for _, agentFirst := range []bool{true, false} {
		name := "server first"
		if agentFirst {
			name = "agent first"
		}
		t.Run(name, func(t *testing.T) {
			h := startWith(t, Config{Translator: cache.DefaultTranslator(), Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
			h.srv.Update(cachetest.AgentMesh(1, true))
			poll.Until(t, "the first push", func() bool { return h.srv.Stats().Revision == 1 })

			agentCtx, stopAgent := streamContext(t)
			serverCtx, stopServer := streamContext(t)
			agentReq := &discovery.DiscoveryRequest{Node: cachetest.AgentNode(echoNode), TypeUrl: resourcev3.ExtensionConfigType}
			serverReq := &discovery.DiscoveryRequest{Node: &core.Node{Id: echoNode, UserAgentName: "gRPC Go"}, TypeUrl: resourcev3.ListenerType, ResourceNames: []string{echoListener}}
			var agentStream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
			var agentResp, serverResp *discovery.DiscoveryResponse
			if agentFirst {
				agentStream, agentResp = firstResponse(t, h, agentCtx, agentReq)
				_, serverResp = firstResponse(t, h, serverCtx, serverReq)
			} else {
				_, serverResp = firstResponse(t, h, serverCtx, serverReq)
				agentStream, agentResp = firstResponse(t, h, agentCtx, agentReq)
			}
			if got := names(t, serverResp); !slices.Equal(got, []string{echoListener}) {
				t.Fatalf("the proxyless server got listeners %v, want its server Listener", got)
			}
			if got := names(t, agentResp); !slices.Equal(got, []string{echoPolicyName}) || agentResp.GetVersionInfo() != echoPolicyRev {
				t.Fatalf("the agent got %v at version %q, want exactly %s at %s", got, agentResp.GetVersionInfo(), echoPolicyName, echoPolicyRev)
			}
			if err := agentStream.Send(&discovery.DiscoveryRequest{Node: agentReq.Node, TypeUrl: resourcev3.ExtensionConfigType,
				VersionInfo: agentResp.GetVersionInfo(), ResponseNonce: agentResp.GetNonce()}); err != nil {
				t.Fatal(err)
			}

			flavours := func() map[string]string {
				out := map[string]string{}
				for _, p := range h.srv.Proxies() {
					if p.ID == echoNode {
						out[p.Flavour] = p.Types[resourcev3.ExtensionConfigType].VersionAcked
					}
				}
				return out
			}
			poll.Until(t, "the agent's ACK on its own entry", func() bool {
				f := flavours()
				return len(f) == 2 && f[string(cache.Agent)] == echoPolicyRev && f[string(translate.Proxyless)] == ""
			})
			if _, ok := h.srv.ProxyConfig(echoNode + cache.AgentKeySuffix); !ok {
				t.Error("ProxyConfig does not find the agent by its key")
			}

			// The first to connect leaves; the other keeps its snapshot.
			stop, staying, stayingKey := stopAgent, string(translate.Proxyless), echoNode
			if !agentFirst {
				stop, staying, stayingKey = stopServer, string(cache.Agent), echoNode+cache.AgentKeySuffix
			}
			stop()
			poll.Until(t, "the first node to leave", func() bool {
				f := flavours()
				_, ok := f[staying]
				return len(f) == 1 && ok
			})
			if _, err := h.srv.pub.Cache().View(stayingKey); err != nil {
				t.Fatalf("the %s node lost its snapshot when the other left: %v", staying, err)
			}
		})
	}
}
