package mesh

import (
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestModelResolvesIdentitiesAndModes: readers of the model get the
// service account, SPIFFE ID, mTLS mode and policy modes with their
// defaults filled in, so none of them writes a default again.
func TestModelResolvesIdentitiesAndModes(t *testing.T) {
	snap := New(1, []*resource.Resource{
		// Workloads sort before the Mesh here, and still get its trust domain.
		res(resource.KindWorkload, "shop", "a-1", &resource.WorkloadSpec{Address: "10.0.0.1"}),
		res(resource.KindWorkload, "shop", "b-1", &resource.WorkloadSpec{Address: "10.0.0.2", ServiceAccount: "cart"}),
		res(resource.KindMesh, "", "mesh", &resource.MeshSpec{TrustDomain: "example.org"}),
		res(resource.KindAuthorizationPolicy, "shop", "plain", &resource.AuthorizationPolicySpec{}),
		res(resource.KindAuthorizationPolicy, "shop", "trial", &resource.AuthorizationPolicySpec{Mode: ModeDryRun, FailureMode: FailureAllow}),
	})
	for _, c := range []struct{ name, sa, id string }{
		{"a-1", resource.DefaultServiceAccount, "spiffe://example.org/ns/shop/sa/default"},
		{"b-1", "cart", "spiffe://example.org/ns/shop/sa/cart"},
	} {
		w := snap.Workload("shop", c.name)
		if w.ServiceAccount != c.sa || w.SPIFFEID != c.id {
			t.Errorf("workload %s: service account %q, SPIFFE ID %q; want %q, %q", c.name, w.ServiceAccount, w.SPIFFEID, c.sa, c.id)
		}
	}
	if snap.MTLSMode != resource.MTLSStrict {
		t.Errorf("mTLS mode %q, want the STRICT default", snap.MTLSMode)
	}
	want := map[string]AuthorizationPolicy{
		"plain": {Mode: ModeEnforce, Enforce: true, FailureMode: FailureDeny},
		"trial": {Mode: ModeDryRun, Enforce: false, FailureMode: FailureAllow},
	}
	for _, p := range snap.AuthorizationPolicies {
		w := want[p.Name]
		if p.Mode != w.Mode || p.Enforce != w.Enforce || p.FailureMode != w.FailureMode {
			t.Errorf("policy %s: mode %q enforce %v failure %q; want %q %v %q", p.Name, p.Mode, p.Enforce, p.FailureMode, w.Mode, w.Enforce, w.FailureMode)
		}
	}
}
