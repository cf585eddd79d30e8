package server

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// randomMesh is a mesh of a few services, workloads and Routes, drawn
// from r: every draw moves endpoints, ports, subsets and splits.
func randomMesh(r *rand.Rand, rev int64) *mesh.Snapshot {
	var rs []*resource.Resource
	protocols := []string{"http", "grpc", "tcp"}
	for s := range 4 {
		proto := protocols[r.IntN(len(protocols))]
		rs = append(rs, &resource.Resource{Kind: resource.KindService, Metadata: resource.Metadata{Name: fmt.Sprintf("s%d", s), Namespace: "default"},
			Spec: &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "p", Port: uint32(8000 + s), Protocol: proto}}}})
		if proto != "tcp" && r.IntN(2) == 0 {
			w1, w2 := int32(r.IntN(101)), int32(0)
			w2 = 100 - w1
			rs = append(rs, &resource.Resource{Kind: resource.KindRoute, Metadata: resource.Metadata{Name: fmt.Sprintf("s%d", s), Namespace: "default"},
				Spec: &resource.RouteSpec{Service: fmt.Sprintf("s%d", s), Rules: []resource.RouteRule{{Backends: []resource.Backend{
					{Subset: map[string]string{"v": "1"}, Weight: &w1}, {Subset: map[string]string{"v": "2"}, Weight: &w2}}}}}})
		}
	}
	for w := range 6 {
		if r.IntN(5) == 0 {
			continue
		}
		rs = append(rs, &resource.Resource{Kind: resource.KindWorkload, Metadata: resource.Metadata{Name: fmt.Sprintf("w%d", w), Namespace: "default"},
			Spec: &resource.WorkloadSpec{Address: fmt.Sprintf("10.0.0.%d", w+1), Services: []string{fmt.Sprintf("s%d", r.IntN(4))},
				Ports:  []resource.WorkloadPort{{Name: "p", Port: uint32(9000 + r.IntN(3))}},
				Labels: map[string]string{"v": fmt.Sprint(1 + r.IntN(2))}}})
	}
	return mesh.New(rev, rs)
}

// want is what a sidecar holds of a fresh translation: every Listener and
// Cluster, and the route configurations and load assignments they use.
func want(t *testing.T, m *mesh.Snapshot, id string) map[string]map[string][]byte {
	t.Helper()
	r, _ := translate.ForProxy(m, translate.Proxy{ID: id, Flavour: translate.Envoy})
	out := map[string]map[string][]byte{}
	add := func(typ string, res ...proto.Message) {
		for _, x := range res {
			b, err := cachev3.MarshalResource(x)
			if err != nil {
				t.Fatal(err)
			}
			if out[typ] == nil {
				out[typ] = map[string][]byte{}
			}
			out[typ][cachev3.GetResourceName(x)] = b
		}
	}
	for _, l := range r.Listeners {
		add(resourcev3.ListenerType, l)
	}
	for _, c := range r.Clusters {
		add(resourcev3.ClusterType, c)
	}
	used := map[string]bool{}
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType} {
		for _, b := range out[typ] {
			for _, n := range referenced(&anypb.Any{TypeUrl: typ, Value: b}) {
				used[n] = true
			}
		}
	}
	for _, rc := range r.Routes {
		if used[rc.GetName()] {
			add(resourcev3.RouteType, rc)
		}
	}
	for _, e := range r.Endpoints {
		if used[e.GetClusterName()] {
			add(resourcev3.EndpointType, e)
		}
	}
	return out
}

// differs says how what a client holds differs from want, "" when not.
func differs(held map[string]map[string]*anypb.Any, want map[string]map[string][]byte) string {
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType} {
		h, w := held[typ], want[typ]
		if !slices.Equal(slices.Sorted(maps.Keys(h)), slices.Sorted(maps.Keys(w))) {
			return fmt.Sprintf("%s: holds %v, want %v", typ, slices.Sorted(maps.Keys(h)), slices.Sorted(maps.Keys(w)))
		}
		for n, a := range h {
			if !bytes.Equal(a.GetValue(), w[n]) {
				return fmt.Sprintf("%s %s: holds other content than a fresh translation", typ, n)
			}
		}
	}
	return ""
}

// checkHeld runs the checks every set passes before it is served on what
// a client holds: each resource valid, every reference served.
func checkHeld(t *testing.T, id string, held map[string]map[string]*anypb.Any) {
	t.Helper()
	r := &translate.Resources{}
	for typ, m := range held {
		for _, n := range slices.Sorted(maps.Keys(m)) {
			x, err := m[n].UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			switch typ {
			case resourcev3.ListenerType:
				r.Listeners = append(r.Listeners, x.(*listener.Listener))
			case resourcev3.RouteType:
				r.Routes = append(r.Routes, x.(*route.RouteConfiguration))
			case resourcev3.ClusterType:
				r.Clusters = append(r.Clusters, x.(*cluster.Cluster))
			case resourcev3.EndpointType:
				r.Endpoints = append(r.Endpoints, x.(*endpoint.ClusterLoadAssignment))
			}
		}
	}
	if err := validate.Resources(r, dataplane.SDSSecretNames()); err != nil {
		t.Fatalf("%s holds a set that fails the checks: %v", id, err)
	}
}

// synced reports whether the tracker says the node acked what it was last
// sent of every type, and holds what the client holds.
func synced(h *harness, c *envoyClient, held map[string]map[string]*anypb.Any) string {
	p, ok := h.proxy(c.node.GetId())
	if !ok {
		return "not connected"
	}
	status.Judge(&p, time.Now(), time.Hour)
	if p.SyncState != status.SyncSynced {
		return fmt.Sprintf("sync state %s: %+v", p.SyncState, p.Types)
	}
	served, _ := h.srv.ProxyConfig(c.node.GetId())
	for _, st := range served {
		var names []string
		for _, r := range st.Resources {
			names = append(names, r.Name)
			if a := held[st.TypeURL][r.Name]; a == nil || cachev3.HashResource(a.GetValue()) != r.Version {
				return fmt.Sprintf("%s %s: the status API's version is not what the proxy holds", st.TypeURL, r.Name)
			}
		}
		if len(names) != len(held[st.TypeURL]) || st.AckedVersion != st.Version {
			return fmt.Sprintf("%s: the status API says %v (acked %q of %q), the proxy holds %v", st.TypeURL, names, st.AckedVersion, st.Version, slices.Sorted(maps.Keys(held[st.TypeURL])))
		}
	}
	return ""
}

// Many random sequences of meshes, pushed to sidecars speaking state of
// the world and delta over real streams, some pushed before the last one
// was, some while a sidecar reconnects: at the end each holds exactly a
// fresh translation of the last mesh, that set passes the checks, and the
// status API says each acked it and holds what it holds.
func TestRandomPushesConvergeToAFreshTranslation(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, rand.Uint64()}
	t.Logf("seeds %v (the last one random)", seeds)
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			h := startWith(t, Config{Debounce: time.Millisecond, MaxDelay: 5 * time.Millisecond})
			var clients []*envoyClient
			for i := range 4 {
				c := newEnvoyClient(fmt.Sprintf("w%d.default", i), i%2 == 1)
				clients = append(clients, c)
				t.Cleanup(c.close)
			}
			var m *mesh.Snapshot
			for rev := int64(1); rev <= 15; rev++ {
				m = randomMesh(r, rev)
				h.srv.Update(m)
				if r.IntN(2) == 0 {
					h.pushed(t, rev)
				}
				for _, c := range clients {
					if c.cancel == nil || r.IntN(8) == 0 {
						c.connect(t, h)
					}
				}
			}
			h.pushed(t, m.Revision)
			if lp, _ := h.srv.LastPush(); len(lp.Refused) > 0 {
				t.Logf("refused: %v", lp.Refused)
			}
			for _, c := range clients {
				id := c.node.GetId()
				exp := want(t, m, id)
				converged(t, h, c, exp)
				held, _ := c.holds()
				checkHeld(t, id, held)
			}
		})
	}
}

// converged waits until c holds exp and the status API agrees, and says
// how it does not if it never does.
func converged(t *testing.T, h *harness, c *envoyClient, exp map[string]map[string][]byte) {
	t.Helper()
	id, why := c.node.GetId(), ""
	defer func() {
		if t.Failed() {
			t.Logf("%s: %s", id, why)
		}
	}()
	poll.Until(t, id+" holds a fresh translation", func() bool {
		held, err := c.holds()
		if err != nil {
			t.Fatalf("%s: stream failed: %v", id, err)
		}
		if why = differs(held, exp); why == "" {
			why = synced(h, c, held)
		}
		return why == ""
	})
}

// pushed waits until revision rev has been pushed.
func (h *harness) pushed(t *testing.T, rev int64) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("push of revision %d", rev), func() bool { return h.srv.Stats().Revision >= rev })
}
