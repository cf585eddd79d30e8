package mesh

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestWithPreviousReusesOnlyWhatIsUnchanged changes one Workload: the
// other service's endpoints are the previous snapshot's, the changed
// one's are built anew with the new address.
func TestWithPreviousReusesOnlyWhatIsUnchanged(t *testing.T) {
	port := []resource.ServicePort{{Name: "http", Port: 80, Protocol: "http"}}
	rs := map[string]*resource.Resource{
		"web":   res(resource.KindService, "shop", "web", &resource.ServiceSpec{Ports: port}),
		"api":   res(resource.KindService, "shop", "api", &resource.ServiceSpec{Ports: port}),
		"web-1": res(resource.KindWorkload, "shop", "web-1", &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{"web"}, ServiceAccount: "web"}),
		"api-1": res(resource.KindWorkload, "shop", "api-1", &resource.WorkloadSpec{Address: "10.0.1.1", Services: []string{"api"}, ServiceAccount: "api"}),
	}
	list := func() []*resource.Resource {
		var out []*resource.Resource
		for _, r := range rs {
			out = append(out, r)
		}
		return out
	}
	prev := New(1, list())
	rs["web-1"] = res(resource.KindWorkload, "shop", "web-1", &resource.WorkloadSpec{Address: "10.0.0.9", Services: []string{"web"}, ServiceAccount: "web"})
	next := New(2, list(), WithPrevious(prev))
	web, api := ServiceRef{"shop", "web"}, ServiceRef{"shop", "api"}
	if &next.Service(api).Endpoints[0] != &prev.Service(api).Endpoints[0] {
		t.Error("api's spec and workloads did not change, but its endpoints were built again")
	}
	if got := next.Service(web).Endpoints; len(got) != 1 || got[0].Address != "10.0.0.9" {
		t.Errorf("web's endpoints after its workload moved = %+v, want 10.0.0.9", got)
	}
	if next.Workload("shop", "api-1").SPIFFEID == "" || next.Workload("shop", "web-1").SPIFFEID == "" {
		t.Error("a workload has no SPIFFE ID")
	}
}

// TestWithPreviousEqualsNew builds snapshots over random changes, each
// from the previous one, sharing the unchanged resources as the store
// does: each equals a snapshot built without the previous one.
func TestWithPreviousEqualsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	random := func() *resource.Resource {
		i := rng.IntN(4)
		svc := fmt.Sprintf("s%d", rng.IntN(4))
		switch rng.IntN(6) {
		case 0:
			return res(resource.KindService, "shop", fmt.Sprintf("s%d", i), &resource.ServiceSpec{
				Ports:           []resource.ServicePort{{Name: "http", Port: 80 + uint32(rng.IntN(2)), Protocol: "http"}},
				ServiceAccounts: [][]string{nil, {"a"}, {"a", "b"}}[rng.IntN(3)]})
		case 1, 2, 3:
			return res(resource.KindWorkload, "shop", fmt.Sprintf("w%d", i), &resource.WorkloadSpec{
				Address: fmt.Sprintf("10.0.0.%d", rng.IntN(3)+1), Services: []string{svc},
				ServiceAccount: [...]string{"", "a", "b", svc}[rng.IntN(4)], Weight: uint32(rng.IntN(3))})
		case 4:
			return res(resource.KindMesh, "", "default", &resource.MeshSpec{TrustDomain: [...]string{"a.example", "b.example"}[rng.IntN(2)]})
		default:
			return res(resource.KindRoute, "shop", fmt.Sprintf("r%d", i), &resource.RouteSpec{Service: svc})
		}
	}
	stored := map[resource.Key]*resource.Resource{}
	var prev *Snapshot
	for step := range 300 {
		for range 1 + rng.IntN(3) {
			r := random()
			if _, ok := stored[r.Key()]; ok && rng.IntN(4) == 0 {
				delete(stored, r.Key())
				continue
			}
			stored[r.Key()] = r
		}
		var rs []*resource.Resource
		for _, r := range stored {
			rs = append(rs, r)
		}
		got := New(int64(step), rs, WithPrevious(prev))
		if want := New(int64(step), rs); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: the snapshot built from the previous one differs from a fresh one:\n%+v\n%+v", step, got.Services, want.Services)
		}
		prev = got
	}
}
