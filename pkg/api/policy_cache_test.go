package api

import (
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// A policy that reads the clock is explained as not cacheable, with the
// place that makes it so.
func TestCacheTextNamesWhyNot(t *testing.T) {
	p := &mesh.AuthorizationPolicy{Name: "clock", Namespace: "shop", Spec: &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "clock.rego", Rego: "package envoy.authz\n\ndefault allow := false\n\nallow if time.now_ns() > 0\n"}},
	}}
	d := inputDeps(p, &mesh.AuthzCompiled{})
	if d == nil {
		t.Fatal("no analysis")
	}
	if got := cacheText(d); got != "decision cache: not cacheable: clock.rego:5: calls time.now_ns, whose answer is not a function of its arguments\n" {
		t.Errorf("got %q", got)
	}
}
