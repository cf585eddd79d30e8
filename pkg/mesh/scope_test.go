package mesh_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
)

// scopedMesh has a caller (front, service account front) and services
// whose policies allow it, deny it, or cannot be read.
var scopedMesh = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: mesh.local, configScoping: %s}
` + meshtest.Served("shop", "front", "10.0.0.1", "%s") + svc("greet") + svc("vault") + svc("ledger") + svc("open") + svc("dry") + svc("body") + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: static, namespace: shop}
spec: {ports: [{name: http, port: 80, protocol: http}], endpoints: [{address: 10.9.9.9}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: pay, namespace: payments}
spec: {ports: [{name: http, port: 80, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: greet, namespace: shop}
spec:
  service: greet
  rules: [{backends: [{service: greet, weight: 1}, {service: ledger, weight: 1}]}]
` + allowOnly("greet", "front") + allowOnly("vault", "admin") + allowOnly("ledger", "greet") + `---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: dry, namespace: shop}
spec:
  targets: {services: [dry]}
  mode: dry-run
  modules: [{name: p.rego, rego: "package envoy.authz\ndefault allow := false\n"}]
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: body, namespace: shop}
spec:
  targets: {services: [body]}
  modules:
  - name: p.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.parsed_body.account == "admin"
`

func svc(name string) string { return meshtest.Served("shop", name, "10.0.1.1") }

func allowOnly(service, sa string) string {
	return meshtest.AllowOnly("shop", service, "spiffe://mesh.local/ns/shop/sa/"+sa)
}

func scopeSnapshot(t *testing.T, mode, egress string) *mesh.Snapshot {
	t.Helper()
	return mesh.New(1, meshtest.Decode(t, "scope.yaml", []byte(fmt.Sprintf(scopedMesh, mode, egress))), mesh.WithAuthz(meshtest.CompileAuthz))
}

// decisions renders a Visibility as "+name.ns reason" / "-name.ns reason".
func decisions(v *mesh.Visibility) map[string]string {
	out := map[string]string{}
	for _, d := range v.Decisions() {
		sign := "-"
		if d.Visible {
			sign = "+"
		}
		out[d.Service.String()] = sign + " " + d.Reason
	}
	return out
}

func expect(t *testing.T, v *mesh.Visibility, want map[string]string) {
	t.Helper()
	got := decisions(v)
	for svc, w := range want {
		if !strings.HasPrefix(got[svc], w[:1]) || !strings.Contains(got[svc], w[2:]) {
			t.Errorf("%s: got %q, want %q", svc, got[svc], w)
		}
	}
}

func TestVisibleAutoHidesWhatNoPolicyCanAllow(t *testing.T) {
	s := scopeSnapshot(t, "auto", "")
	v := s.Visible(s.Workload("shop", "front-1"))
	if v.All || v.Key == "" {
		t.Fatalf("nothing hidden: %v", decisions(v))
	}
	expect(t, v, map[string]string{
		"greet.shop":   "+ policy shop/greet can allow spiffe://mesh.local/ns/shop/sa/front",
		"vault.shop":   "- no policy of vault can allow spiffe://mesh.local/ns/shop/sa/front: AuthorizationPolicy shop/vault (on workload vault-1) allows no request of it",
		"ledger.shop":  "+ Route shop/greet of greet.shop, which is sent, routes to it",
		"open.shop":    "+ workload open-1 has no enforced AuthorizationPolicy",
		"dry.shop":     "+ policy shop/dry is dry-run, which denies nothing: kept",
		"body.shop":    "+ policy shop/body cannot be analysed (it runs on ext_authz, not RBAC): kept",
		"static.shop":  "+ static endpoint 10.9.9.9 is behind no policy",
		"pay.payments": "+ no workload serves it yet",
		"front.shop":   "+ workload front-1 has no enforced AuthorizationPolicy",
	})
	for _, ref := range []mesh.ServiceRef{{Namespace: "shop", Name: "vault"}} {
		if v.Sees(ref) {
			t.Errorf("Sees(%s) = true", ref)
		}
	}
	if !v.Sees(mesh.ServiceRef{Namespace: "shop", Name: "ledger"}) {
		t.Error("a backend of a visible Route is hidden: the route would name a cluster the proxy is not sent")
	}
	// The caller vault allows sees it; the memo gives one value per input.
	admin := s.Visible(s.Workload("shop", "vault-1"))
	if admin == v || s.Visible(s.Workload("shop", "front-1")) != v {
		t.Error("Visible is not memoized per identity")
	}
}

func TestVisibleExplicitSendsOnlyWhatIsListed(t *testing.T) {
	s := scopeSnapshot(t, "explicit", ", egress: [{service: greet}, {namespace: payments}]")
	v := s.Visible(s.Workload("shop", "front-1"))
	expect(t, v, map[string]string{
		"greet.shop":   "+ listed in spec.egress of Workload shop/front-1",
		"pay.payments": "+ namespace payments listed in spec.egress of Workload shop/front-1",
		"ledger.shop":  "+ Route shop/greet of greet.shop, which is sent, routes to it",
		"vault.shop":   "- not listed in spec.egress",
		"open.shop":    "- not listed in spec.egress",
	})
	// A workload that lists nothing is not narrowed.
	if other := s.Visible(s.Workload("shop", "open-1")); !other.All {
		t.Errorf("a workload listing no egress was narrowed: %v", decisions(other))
	}
}

func TestVisibleAutoAlsoHonoursEgress(t *testing.T) {
	s := scopeSnapshot(t, "auto", ", egress: [{service: vault}, {service: open}]")
	v := s.Visible(s.Workload("shop", "front-1"))
	expect(t, v, map[string]string{
		"vault.shop": "- listed in spec.egress of Workload shop/front-1; no policy of vault can allow",
		"open.shop":  "+ listed in spec.egress",
		"greet.shop": "- not listed",
	})
}

func TestVisibleOffOrWithoutWorkloadSendsEverything(t *testing.T) {
	s := scopeSnapshot(t, "none", ", egress: [{service: greet}]")
	if v := s.Visible(s.Workload("shop", "front-1")); !v.All || v.Key != "" || !strings.Contains(decisions(v)["vault.shop"], "scoping is off") {
		t.Errorf("scoping none narrowed: %v", decisions(v))
	}
	s = scopeSnapshot(t, "auto", "")
	if v := s.Visible(nil); !v.All || !strings.Contains(decisions(v)["vault.shop"], "names no Workload") {
		t.Errorf("a proxy without a workload was narrowed: %v", decisions(v))
	}
}

// TestVisibleGrantAppearsInNextSnapshot: a policy that starts allowing
// the caller makes the service visible in the very next snapshot.
func TestVisibleGrantAppearsInNextSnapshot(t *testing.T) {
	before := scopeSnapshot(t, "auto", "")
	if before.Visible(before.Workload("shop", "front-1")).Sees(mesh.ServiceRef{Namespace: "shop", Name: "vault"}) {
		t.Fatal("vault visible before the grant")
	}
	doc := strings.Replace(fmt.Sprintf(scopedMesh, "auto", ""), `"spiffe://mesh.local/ns/shop/sa/admin"`, `"spiffe://mesh.local/ns/shop/sa/front"`, 1)
	after := mesh.New(2, meshtest.Decode(t, "scope.yaml", []byte(doc)), mesh.WithAuthz(meshtest.CompileAuthz))
	v := after.Visible(after.Workload("shop", "front-1"))
	if !v.Sees(mesh.ServiceRef{Namespace: "shop", Name: "vault"}) {
		t.Errorf("vault still hidden after the grant: %v", decisions(v)["vault.shop"])
	}
}

// TestVisibleExplainsWhenNothingIsHidden: a proxy that is sent every
// service still gets each one's reason.
func TestVisibleExplainsWhenNothingIsHidden(t *testing.T) {
	s := scopeSnapshot(t, "explicit", "")
	v := s.Visible(s.Workload("shop", "front-1"))
	if !v.All {
		t.Fatalf("narrowed: %v", decisions(v))
	}
	expect(t, v, map[string]string{"vault.shop": "+ no spec.egress lists what its workload calls, so every service is sent"})
}

// TestVisibleIsSafeForConcurrentUse: pushes and API reads resolve from one
// snapshot at once (run with -race).
func TestVisibleIsSafeForConcurrentUse(t *testing.T) {
	s := scopeSnapshot(t, "auto", "")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			w := s.Workloads[i%len(s.Workloads)]
			v := s.Visible(w)
			if len(v.Decisions()) != len(s.Services) {
				t.Errorf("%s: %d decisions", w.Name, len(v.Decisions()))
			}
			v.Sees(mesh.ServiceRef{Namespace: "shop", Name: "vault"})
		})
	}
	wg.Wait()
}
