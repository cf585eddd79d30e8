package mesh

import (
	"fmt"
	"sync"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

func policy(ns, name string, t resource.Targets) *resource.Resource {
	return res(resource.KindAuthorizationPolicy, ns, name, &resource.AuthorizationPolicySpec{Targets: t})
}

func TestAuthorizationPoliciesTargetServicesAndLabelsInTheirNamespace(t *testing.T) {
	snap := New(1, []*resource.Resource{
		res(resource.KindWorkload, "shop", "cart-1", &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{"cart"}, Labels: map[string]string{"app": "cart", "tier": "back"}}),
		res(resource.KindWorkload, "shop", "web-1", &resource.WorkloadSpec{Address: "10.0.0.2", Services: []string{"web"}, Labels: map[string]string{"app": "web"}}),
		policy("shop", "by-service", resource.Targets{Services: []string{"cart"}}),
		policy("shop", "by-label", resource.Targets{Selector: &resource.LabelSelector{MatchLabels: map[string]string{"tier": "back"}}}),
		policy("shop", "a-both", resource.Targets{Services: []string{"web"}, Selector: &resource.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}}),
		policy("shop", "label-mismatch", resource.Targets{Selector: &resource.LabelSelector{MatchLabels: map[string]string{"tier": "back", "app": "web"}}}),
		// Another namespace's policy never applies, even by service name.
		policy("other", "by-service", resource.Targets{Services: []string{"cart"}}),
	})
	names := func(ps []*AuthorizationPolicy) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Namespace+"/"+p.Name)
		}
		return fmt.Sprint(out)
	}
	if got, want := names(snap.AuthorizationPoliciesFor(snap.Workload("shop", "cart-1"))), "[shop/a-both shop/by-label shop/by-service]"; got != want {
		t.Errorf("policies for cart-1 = %s, want %s", got, want)
	}
	if got, want := names(snap.AuthorizationPoliciesFor(snap.Workload("shop", "web-1"))), "[shop/a-both]"; got != want {
		t.Errorf("policies for web-1 = %s, want %s", got, want)
	}
	if got := snap.AuthorizationPoliciesFor(nil); got != nil {
		t.Errorf("policies for no workload = %v", got)
	}
}

func TestWithAuthzCompilesEveryPolicyOnce(t *testing.T) {
	// The snapshot compiles its policies concurrently.
	var mu sync.Mutex
	calls := map[string]int{}
	compiler := func(p *AuthorizationPolicy) *AuthzCompiled {
		mu.Lock()
		defer mu.Unlock()
		calls[p.Namespace+"/"+p.Name]++
		return &AuthzCompiled{Revision: "rev-" + p.Name}
	}
	snap := New(1, []*resource.Resource{
		policy("shop", "a", resource.Targets{Services: []string{"cart"}}),
		policy("shop", "b", resource.Targets{Services: []string{"cart"}}),
	}, WithAuthz(compiler))
	for _, p := range snap.AuthorizationPolicies {
		if p.Compiled == nil || p.Compiled.Revision != "rev-"+p.Name {
			t.Errorf("policy %s: Compiled = %+v", p.Name, p.Compiled)
		}
	}
	if fmt.Sprint(calls) != "map[shop/a:1 shop/b:1]" {
		t.Errorf("compiler calls = %v, want one per policy", calls)
	}
	if New(1, []*resource.Resource{policy("shop", "a", resource.Targets{})}).AuthorizationPolicies[0].Compiled != nil {
		t.Error("a snapshot without WithAuthz has compiled policies")
	}
}
