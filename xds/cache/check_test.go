package cache

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache/cachetest"
	"embassy.dev/embassy/xds/translate"
)

// breaking wraps the fake translator; while broken is set, its Inbound
// adds what bad returns to each sidecar's own set.
type breaking struct {
	*cachetest.Translator
	broken atomic.Bool
	bad    func() *translate.Resources
}

func (b *breaking) Inbound(m *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	r := b.Translator.Inbound(m, p)
	if b.broken.Load() {
		extra := b.bad()
		r.Listeners = append(r.Listeners, extra.Listeners...)
		r.Clusters = append(r.Clusters, extra.Clusters...)
	}
	return r
}

// TestRefusedSetIsNotServed breaks a sidecar's own set three ways: against
// an Envoy rule across resources (two listeners on one address), against a rule inside one resource (a cluster
// replacing a shared one), and against the reference check, and checks
// that the node keeps its last good snapshot, that the push reports it
// refused with the reason, that other nodes are still updated, and that the
// node is updated again once its set is fixed.
func TestRefusedSetIsNotServed(t *testing.T) {
	cases := map[string]struct {
		bad  func() *translate.Resources
		want string
		// logged is what the log line must name (hclog quotes want).
		logged string
		// at is the refused resource the push's refusal names first.
		at string
	}{
		"two listeners of its own on one address": {func() *translate.Resources {
			return &translate.Resources{Listeners: []*listener.Listener{cachetest.Listener("clash-a", 15007), cachetest.Listener("clash-b", 15007)}}
		}, "listener.duplicate-address", "listener.duplicate-address", "Listener clash-"},
		"a gRPC health check on an HTTP/1 cluster": {func() *translate.Resources {
			return &translate.Resources{Clusters: []*cluster.Cluster{{Name: "web", ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
				HealthChecks: []*core.HealthCheck{{Timeout: durationpb.New(time.Second), Interval: durationpb.New(time.Second),
					HealthChecker: &core.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &core.HealthCheck_GrpcHealthCheck{}}}}}}}
		}, "cluster.grpc-health-check-http2", "cluster.grpc-health-check-http2", "Cluster web"},
		"an EDS cluster with no load assignment": {func() *translate.Resources {
			return &translate.Resources{Clusters: []*cluster.Cluster{{Name: "orphan", ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS}}}}
		}, `ClusterLoadAssignment "orphan"`, "orphan", "Cluster orphan"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var logs syncbuf.Buffer
			tr := &breaking{Translator: cachetest.New(), bad: c.bad}
			p := NewPublisher(Options{Translator: tr, Debounce: time.Millisecond, MaxDelay: 10 * time.Millisecond,
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs})})
			t.Cleanup(p.Close)
			p.Connect(cachetest.EnvoyNode("w0.default"))
			p.Connect(cachetest.GRPCNode("client-1"))
			p.Update(mesh.New(1, nil))
			poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
			good := snapshotOf(t, p, "w0.default")

			tr.broken.Store(true)
			tr.SetPort("web", 9090)
			p.Update(mesh.New(2, nil))
			poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
			if snapshotOf(t, p, "w0.default") != good {
				t.Fatal("a refused set replaced the node's last good snapshot")
			}
			info, _ := p.LastPush()
			if err := info.Refused["w0.default"]; err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("push refused %v, want w0.default for %s", info.Refused, c.want)
			}
			if len(info.Refusals) != 1 || !slices.Equal(info.Refusals[0].Proxies, []string{"w0.default"}) || info.Refusals[0].Since != 1 ||
				len(info.Refusals[0].Problems) == 0 || !strings.HasPrefix(info.Refusals[0].Problems[0].Resource, c.at) {
				t.Errorf("push refusals %+v, want one for w0.default since revision 1 naming %s", info.Refusals, c.at)
			}
			if _, ok := info.Refused["client-1"]; ok || len(info.Changed["client-1"]) == 0 {
				t.Errorf("the proxyless client, whose set is fine, was not updated: refused %v, changed %v", info.Refused, info.Changed)
			}
			if !strings.Contains(logs.String(), "configuration refused") || !strings.Contains(logs.String(), c.logged) {
				t.Errorf("refusal not logged with its reason:\n%s", logs.String())
			}

			tr.broken.Store(false)
			p.Update(mesh.New(3, nil))
			poll.Until(t, "revision 3", func() bool { return p.Revision() == 3 })
			if snapshotOf(t, p, "w0.default") == good {
				t.Error("the node was not updated once its set was fixed")
			}
		})
	}
}

// brokenOutbound wraps the fake translator; while broken is set, the
// shared outbound set holds two listeners on one address.
type brokenOutbound struct {
	*cachetest.Translator
	broken atomic.Bool
}

func (b *brokenOutbound) Outbound(m *mesh.Snapshot) *translate.Resources {
	r := b.Translator.Outbound(m)
	if b.broken.Load() {
		r.Listeners = append(r.Listeners, cachetest.Listener("clash", 15001))
	}
	return r
}

// TestRefusalCountsFromTheLastServableRevision pushes a revision whose
// shared set Envoy would refuse while no sidecar is connected: nobody is
// refused, but that revision was not servable, so when a sidecar is
// refused at the next revision the inputs count from the one before.
func TestRefusalCountsFromTheLastServableRevision(t *testing.T) {
	tr := &brokenOutbound{Translator: cachetest.New()}
	p := NewPublisher(Options{Translator: tr, Debounce: time.Millisecond, MaxDelay: 10 * time.Millisecond})
	t.Cleanup(p.Close)
	p.Update(mesh.New(1, nil))
	poll.Until(t, "revision 1", func() bool { return p.Revision() == 1 })
	tr.broken.Store(true)
	p.Update(mesh.New(2, nil))
	poll.Until(t, "revision 2", func() bool { return p.Revision() == 2 })
	if info, _ := p.LastPush(); len(info.Refusals) != 0 {
		t.Fatalf("revision 2 refused %+v with no node connected", info.Refusals)
	}

	p.Connect(cachetest.EnvoyNode("w0.default"))
	p.Update(mesh.New(3, nil))
	poll.Until(t, "revision 3", func() bool { return p.Revision() == 3 })
	info, _ := p.LastPush()
	if len(info.Refusals) != 1 || info.Refusals[0].Since != 1 {
		t.Fatalf("revision 3 refusals %+v, want one since revision 1, the last servable", info.Refusals)
	}
}
