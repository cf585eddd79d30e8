package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/rollout"
)

// extraService adds a Service, so every Envoy node's clusters change.
const extraService = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: extra-%d, namespace: default}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
`

// heldProxy is an Envoy node on a real ADS stream that acks its first
// clusters and holds every later response unanswered until released, as
// a proxy stuck applying its configuration does.
type heldProxy struct {
	once    sync.Once
	release chan struct{}
}

// holdAfterFirst connects node id to the xDS server at addr.
func holdAfterFirst(t *testing.T, addr, id string) *heldProxy {
	t.Helper()
	stream, err := dialADS(t, addr).StreamAggregatedResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	node := envoyNode(id, false)
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType}); err != nil {
		t.Fatal(err)
	}
	h := &heldProxy{release: make(chan struct{})}
	responses := make(chan *discovery.DiscoveryResponse, 16)
	go func() {
		defer close(responses)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			responses <- resp
		}
	}()
	ack := func(r *discovery.DiscoveryResponse) bool {
		return stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: r.GetTypeUrl(), VersionInfo: r.GetVersionInfo(), ResponseNonce: r.GetNonce()}) == nil
	}
	go func() {
		first, ok := <-responses
		if !ok || !ack(first) {
			return
		}
		var held *discovery.DiscoveryResponse
		for {
			select {
			case r, ok := <-responses:
				if !ok {
					return
				}
				held = r
			case <-h.release:
				if held != nil && !ack(held) {
					return
				}
				for r := range responses {
					if !ack(r) {
						return
					}
				}
				return
			}
		}
	}()
	return h
}

// ackAll answers the held response and every later one.
func (h *heldProxy) ackAll() { h.once.Do(func() { close(h.release) }) }

// apiClient is a client of cp's API with its admin token.
func apiClient(t *testing.T, cp *controlPlane) *client.Client {
	t.Helper()
	return client.New("http://"+cp.api, readSecret(t, filepath.Join(cp.dataDir, "admin-token")))
}

var changeIDRE = regexp.MustCompile(`change (c-\d+)`)

// TestEveryReplicaFollowsTheWholeFleetsChanges runs three embassy-cp
// --etcd-embedded replicas with a proxyless gRPC client on r0, another on
// r1 and an Envoy node on r2 that holds its configuration: apply --wait
// on r0 fails naming only r2's proxy, and succeeds once it answers;
// r2's /v1/changes and /v1/events show the proxies of r0 and r1, and the
// events of r1 stay readable on r2 after r1 is killed.
func TestEveryReplicaFollowsTheWholeFleetsChanges(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	dir := t.TempDir()
	v1, v2, v2b := nettest.FreeAddr(t), nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2, "--name", "v2").waitFor(reListening, 10*time.Second)
	r0, r1, r2 := rs.cps[0], rs.cps[1], rs.cps[2]
	r0.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2), portOf(t, v2b))))
	r0.waitPushed(t)
	// Follow r2's events from before anything connects.
	followed := make(chan events.Event, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = apiClient(t, r2).FollowEvents(ctx, func(e events.Event) error {
			select {
			case followed <- e:
			default:
			}
			return nil
		})
	}()

	proxyless := map[string]*controlPlane{"client-a.default": r0, "client-b.default": r1}
	for id, cp := range proxyless {
		boot := writeFile(t, dir, id+".json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", id, "--xds-address", cp.xds))
		next := intervals(t, boot, 90*time.Second)
		for i := 0; ; i++ {
			if s := next(); s.Total > 0 && s.Errors == 0 {
				break
			}
			if i == 100 {
				t.Fatalf("the proxyless client %s made no successful call within 100 intervals", id)
			}
		}
	}
	held := holdAfterFirst(t, r2.xds, "held.default")
	for _, cp := range []*controlPlane{r0, r2} {
		poll.UntilState(t, cp.api+" to list every replica's proxies", func() (bool, string) {
			out := cp.mustCtl(t, "proxy-status")
			return strings.Contains(out, "client-a.default") && strings.Contains(out, "client-b.default") && strings.Contains(out, "held.default"), out
		})
	}

	// The held proxy on r2 owes its answer: r0's apply --wait must say so.
	applied := time.Now()
	out, code := r0.ctl(t, "apply", "-f", writeFile(t, dir, "extra-1.yaml", fmt.Sprintf(extraService, 1)), "--wait", "--timeout", "6s")
	waited := time.Since(applied)
	want := "no answer within 6s from held.default on replica " + r2.api
	if code != 1 || !strings.Contains(out, want) || strings.Contains(out, "client-a") || strings.Contains(out, "client-b") {
		t.Fatalf("apply --wait on r0 with a proxy on r2 holding: exit %d, want 1 naming only %q:\n%s", code, want, out)
	}
	m := changeIDRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("apply printed no change id:\n%s", out)
	}
	held.ackAll()
	c2 := apiClient(t, r2)
	poll.UntilState(t, "r2 to report "+m[1]+" acked by every proxy of every replica", func() (bool, string) {
		ch, err := c2.Change(ctx, m[1])
		if err != nil {
			return false, err.Error()
		}
		on := map[string]string{}
		for _, p := range ch.Proxies {
			on[p.ID] = p.Replica
		}
		return ch.State == rollout.Converged && on["held.default"] == r2.api && on["client-a.default"] == r0.api &&
			on["client-b.default"] == r1.api, fmt.Sprintf("%+v", ch)
	})
	t.Logf("figure: apply --wait on r0 returned %s after the apply, naming the proxy held on r2", waited.Round(10*time.Millisecond))

	applied = time.Now()
	out = r0.mustCtl(t, "apply", "-f", writeFile(t, dir, "extra-2.yaml", fmt.Sprintf(extraService, 2)), "--wait", "--timeout", "30s")
	if !strings.Contains(out, "acknowledged it in") || !strings.Contains(out, "(a fleet of 3 replicas)") {
		t.Fatalf("apply --wait once every proxy answers:\n%s", out)
	}
	returned := time.Since(applied)
	m = changeIDRE.FindStringSubmatch(out)
	ch, err := apiClient(t, r0).Change(ctx, m[1])
	if err != nil {
		t.Fatal(err)
	}
	var pushes []string
	for _, r := range ch.Replicas {
		pushes = append(pushes, r.PushedAt.Sub(applied).Round(time.Millisecond).String())
	}
	t.Logf("figure: apply --wait on r0 returned %s after the apply once every proxy of 3 replicas acked; the replicas pushed %s after it, the last ack came %s after it",
		returned.Round(time.Millisecond), strings.Join(pushes, ", "), ch.ConvergedAt.Sub(applied).Round(time.Millisecond))

	connected := func(evs []events.Event) map[string]string {
		on := map[string]string{}
		for _, e := range evs {
			if e.Kind == events.KindConnect {
				on[e.Proxy] = e.Replica
			}
		}
		return on
	}
	poll.UntilState(t, "r2's /v1/events to list the connections of r0's and r1's proxies", func() (bool, string) {
		evs, err := c2.Events(ctx, 0)
		if err != nil {
			return false, err.Error()
		}
		on := connected(evs)
		return on["client-a.default"] == r0.api && on["client-b.default"] == r1.api, fmt.Sprintf("%v", on)
	})
	poll.UntilState(t, "r2's followed events to carry r0's apply", func() (bool, string) {
		select {
		case e := <-followed:
			return e.Kind == events.KindApply && e.Replica == r0.api, fmt.Sprintf("%+v", e)
		default:
			return false, "no event"
		}
	})

	killed := time.Now()
	rs.kill(1)
	poll.Until(t, "r1's proxies to leave r2's proxy-status", func() bool {
		return !strings.Contains(r2.mustCtl(t, "proxy-status"), "client-b.default")
	})
	evs, err := c2.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if on := connected(evs); on["client-b.default"] != r1.api {
		t.Fatalf("r2 lost the events of r1 %s after r1 was killed: %v", time.Since(killed).Round(100*time.Millisecond), on)
	}
}
