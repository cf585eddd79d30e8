package controlplane

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/translate"
)

// Publishes share the decoded resources that did not change between
// snapshots (store.ListShared). These tests prove that a publish decodes
// only what changed, that what it shares equals a fresh decode after any
// sequence of changes, and that nothing modifies a shared resource.

func svcRes(name string, port uint32) *resource.Resource {
	return &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindService,
		Metadata: resource.Metadata{Name: name, Namespace: "shop"},
		Spec:     &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: port, Protocol: resource.ProtocolHTTP}}}}
}

// workloadRes is a Workload serving service, as its service account of
// the same name (the one a Service allows by default).
func workloadRes(name, address, service string) *resource.Resource {
	return &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindWorkload,
		Metadata: resource.Metadata{Name: name, Namespace: "shop"},
		Spec: &resource.WorkloadSpec{Address: address, Services: []string{service}, ServiceAccount: service,
			Labels: map[string]string{"version": "v1"}}}
}

func routeRes(name, service string, w1, w2 int32) *resource.Resource {
	return &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindRoute,
		Metadata: resource.Metadata{Name: name, Namespace: "shop"},
		Spec: &resource.RouteSpec{Service: service, Rules: []resource.RouteRule{{Backends: []resource.Backend{
			{Subset: map[string]string{"version": "v1"}, Weight: &w1},
			{Subset: map[string]string{"version": "v2"}, Weight: &w2},
		}}}}}
}

func commitAll(t *testing.T, st store.Store, rs ...*resource.Resource) {
	t.Helper()
	ops := make([]store.Op, len(rs))
	for i, r := range rs {
		ops[i] = store.Op{Key: r.Key(), Resource: r}
	}
	if _, err := st.Commit(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

func mustPublish(t *testing.T, c *ControlPlane) *mesh.Snapshot {
	t.Helper()
	if err := c.publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.snapshot()
}

// TestPublishDecodesOnlyWhatChanged changes one Workload, then deletes a
// Service: every other resource's spec in the next snapshot is the very
// one of the last (a decode would have made a new one), and the changed
// and deleted ones show as such.
func TestPublishDecodesOnlyWhatChanged(t *testing.T) {
	st := store.NewMemory()
	c := newPublisher(t, st)
	commitAll(t, st, svcRes("web", 80), svcRes("api", 80), routeRes("web", "web", 80, 20),
		workloadRes("web-1", "10.0.0.1", "web"), workloadRes("web-2", "10.0.0.2", "web"), workloadRes("api-1", "10.0.1.1", "api"))
	before := mustPublish(t, c)

	commitAll(t, st, workloadRes("web-2", "10.0.0.9", "web"))
	after := mustPublish(t, c)
	if got := after.Workload("shop", "web-2").Spec.Address; got != "10.0.0.9" {
		t.Errorf("the changed Workload has address %s, want its new 10.0.0.9", got)
	}
	if eps := after.Service(mesh.ServiceRef{Namespace: "shop", Name: "web"}).Endpoints; len(eps) != 2 || eps[1].Address != "10.0.0.9" {
		t.Errorf("web's endpoints after the change are %+v, want 10.0.0.1 and 10.0.0.9", eps)
	}
	if after.Workload("shop", "web-2").Spec == before.Workload("shop", "web-2").Spec {
		t.Error("the changed Workload's spec is the one decoded before the change")
	}
	for _, name := range []string{"web-1", "api-1"} {
		if after.Workload("shop", name).Spec != before.Workload("shop", name).Spec {
			t.Errorf("Workload %s did not change but was decoded again", name)
		}
	}
	for _, name := range []string{"web", "api"} {
		ref := mesh.ServiceRef{Namespace: "shop", Name: name}
		if after.Service(ref).Spec != before.Service(ref).Spec {
			t.Errorf("Service %s did not change but was decoded again", name)
		}
	}
	if after.Routes[0].Spec != before.Routes[0].Spec {
		t.Error("the Route did not change but was decoded again")
	}

	if _, err := st.Commit(context.Background(), []store.Op{{Key: svcRes("api", 0).Key()}}); err != nil {
		t.Fatal(err)
	}
	deleted := mustPublish(t, c)
	if deleted.Service(mesh.ServiceRef{Namespace: "shop", Name: "api"}) != nil || len(deleted.Services) != 1 {
		t.Errorf("after deleting Service api the snapshot has services %v", serviceNames(deleted))
	}
}

func serviceNames(s *mesh.Snapshot) []string {
	var out []string
	for _, svc := range s.Services {
		out = append(out, svc.Ref.String())
	}
	return out
}

// TestPublishRandomChangesMatchFreshDecode runs random puts, changes and
// deletes of every kind through a real control plane (bbolt, the Rego
// sandbox for AuthorizationPolicies) and checks that each published
// snapshot equals one built from a fresh decode of the store.
func TestPublishRandomChangesMatchFreshDecode(t *testing.T) {
	var logs syncbuf.Buffer
	cp := startCP(t, t.TempDir(), &logs)
	t.Cleanup(func() { cp.Close() })
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 1))
	pool := func() *resource.Resource {
		i := rng.IntN(4)
		switch rng.IntN(5) {
		case 0:
			return svcRes(fmt.Sprintf("s%d", i), 80+uint32(rng.IntN(2)))
		case 1, 2:
			return workloadRes(fmt.Sprintf("w%d", i), fmt.Sprintf("10.0.0.%d", rng.IntN(3)+1), fmt.Sprintf("s%d", rng.IntN(4)))
		case 3:
			return routeRes(fmt.Sprintf("r%d", i), fmt.Sprintf("s%d", i), int32(rng.IntN(3)*10), 50)
		default:
			return allowFrom(fmt.Sprintf("p%d", i), fmt.Sprintf("s%d", i), fmt.Sprintf("sa%d", rng.IntN(2)))
		}
	}
	stored := map[resource.Key]bool{}
	for step := range 40 {
		var ops []store.Op
		for range 1 + rng.IntN(3) {
			r := pool()
			if stored[r.Key()] && rng.IntN(3) == 0 {
				ops = append(ops, store.Op{Key: r.Key()})
				delete(stored, r.Key())
				continue
			}
			ops = append(ops, store.Op{Key: r.Key(), Resource: r})
			stored[r.Key()] = true
		}
		rev, err := cp.Store().Commit(ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		got := mustPublish(t, cp)
		fresh, freshRev, err := cp.Store().List(ctx, "")
		if err != nil || freshRev != rev {
			t.Fatalf("step %d: List at %d, %v; want revision %d", step, freshRev, err, rev)
		}
		want := mesh.New(rev, cp.overlay(fresh, rev), mesh.WithAuthz(cp.authz.compile))
		cp.servedTrustDomain(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: the published snapshot differs from a fresh decode of the store:\n%s", step, snapshotDiff(got, want))
		}
	}
}

// allowFrom is an AuthorizationPolicy letting one service account call a
// service, which compiles to RBAC.
func allowFrom(name, service, sa string) *resource.Resource {
	return &resource.Resource{APIVersion: resource.APIVersion, Kind: resource.KindAuthorizationPolicy,
		Metadata: resource.Metadata{Name: name, Namespace: "shop"},
		Spec: &resource.AuthorizationPolicySpec{Targets: resource.Targets{Services: []string{service}}, Modules: []resource.RegoModule{{Name: name + ".rego", Rego: fmt.Sprintf(`package envoy.authz

default allow := false

allow if input.attributes.source.principal == "spiffe://embassy.local/ns/shop/sa/%s"
`, sa)}}}}
}

// snapshotDiff names the parts of two snapshots that differ.
func snapshotDiff(got, want *mesh.Snapshot) string {
	parts := map[string][2]any{
		"Mesh": {got.Mesh, want.Mesh}, "Services": {got.Services, want.Services}, "Workloads": {got.Workloads, want.Workloads},
		"Routes": {got.Routes, want.Routes}, "TrafficPolicies": {got.TrafficPolicies, want.TrafficPolicies},
		"AuthorizationPolicies": {got.AuthorizationPolicies, want.AuthorizationPolicies},
	}
	out := ""
	for name, p := range parts {
		if !reflect.DeepEqual(p[0], p[1]) {
			out += fmt.Sprintf("%s: published %s\nfresh %s\n", name, describe(p[0]), describe(p[1]))
		}
	}
	if out == "" {
		out = "(in the snapshots' indexes)"
	}
	return out
}

func describe(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Sprintf("%+v", v)
	}
	out := "["
	for i := range rv.Len() {
		out += fmt.Sprintf("%+v ", rv.Index(i).Elem().Interface())
	}
	return out + "]"
}

// TestPublishLeavesSharedResourcesUnmodified publishes every translator
// test mesh through a real control plane, translates it for every proxy of
// both flavours, reads the API's views of it, and then checks that each
// resource the store shares still equals a fresh decode of its stored
// value: nothing on those paths modified a decoded resource, so no later
// snapshot can see an earlier one's change.
func TestPublishLeavesSharedResourcesUnmodified(t *testing.T) {
	var logs syncbuf.Buffer
	cp := startCP(t, t.TempDir(), &logs)
	t.Cleanup(func() { cp.Close() })
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("..", "..", "xds", "translate", "testdata", "in", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no translator test meshes (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		replaceStore(t, cp.Store(), meshtest.Decode(t, f, data))
		snap := mustPublish(t, cp)
		translateAll(snap)
		readAPI(t, cp)
		shared, _, err := cp.Store().ListShared(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _, err := cp.Store().List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := range fresh {
			if !reflect.DeepEqual(shared[i], fresh[i]) {
				t.Errorf("%s: %s was modified after it was decoded:\nnow   %+v\nstored %+v", filepath.Base(f), fresh[i].Key(), shared[i].Spec, fresh[i].Spec)
			}
		}
	}
}

// replaceStore makes rs the whole content of st, in one commit.
func replaceStore(t *testing.T, st store.Store, rs []*resource.Resource) {
	t.Helper()
	old, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	keep := map[resource.Key]bool{}
	var ops []store.Op
	for _, r := range rs {
		keep[r.Key()] = true
		ops = append(ops, store.Op{Key: r.Key(), Resource: r})
	}
	for _, r := range old {
		if !keep[r.Key()] {
			ops = append(ops, store.Op{Key: r.Key()})
		}
	}
	if _, err := st.Commit(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

// translateAll runs every translation a proxy of the snapshot may get.
func translateAll(s *mesh.Snapshot) {
	translate.Outbound(s)
	translate.ProxylessClient(s)
	for _, w := range s.Workloads {
		for _, f := range []translate.Flavour{translate.Envoy, translate.Proxyless} {
			p := translate.Proxy{ID: w.Name + "." + w.Namespace, Flavour: f, Workload: w.Name, Namespace: w.Namespace}
			translate.ForProxy(s, p)
			translate.AuthzBundles(s, p)
		}
	}
}

// readAPI reads the API's views built from the snapshot and the store.
func readAPI(t *testing.T, cp *ControlPlane) {
	t.Helper()
	for _, path := range []string{"/v1/status", "/v1/services", "/v1/posture", "/v1/policies", "/v1/proxies", "/v1/resources/service"} {
		req, err := http.NewRequest(http.MethodGet, "http://"+cp.APIAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+cp.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
	}
}
