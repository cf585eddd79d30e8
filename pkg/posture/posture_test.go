package posture

import (
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const cleanMesh = `
apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: t.example, mtls: {mode: STRICT}}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: api, namespace: shop}
spec: {ports: [{name: http, port: 80, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: users, namespace: shop}
spec: {ports: [{name: http, port: 80, protocol: http}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: api-1, namespace: shop}
spec: {address: 10.0.0.1, services: [api], serviceAccount: api}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: users-1, namespace: shop}
spec: {address: 10.0.0.2, services: [users], labels: {app: users}, serviceAccount: users}
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: api-callers, namespace: shop}
spec:
  targets: {services: [api]}
  modules:
    - name: a.rego
      rego: |
        package envoy.authz
        default allow := false
        allow if input.attributes.source.principal == "spiffe://t.example/ns/web/sa/frontend"
---
apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: users-by-label, namespace: shop}
spec:
  targets: {selector: {matchLabels: {app: users}}}
  modules:
    - name: u.rego
      rego: |
        package envoy.authz
        default allow := false
        allow if input.attributes.request.http.method == "GET"
`

func decode(t *testing.T, docs string) []*resource.Resource {
	t.Helper()
	rs, err := resource.Decode("mesh.yaml", []byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// cleanInputs is a mesh with no weakness: STRICT, enforced policies on
// every service, fresh certificates and roots, no tokens, synced proxies.
func cleanInputs(t *testing.T) Inputs {
	return Inputs{
		Now:          now,
		Mesh:         mesh.New(5, decode(t, cleanMesh)),
		Roots:        []identity.RootInfo{{Fingerprint: "aa", Subject: "CN=root", NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), Active: true}},
		Certificates: []Certificate{{Workload: "api-1.shop", SPIFFEID: "spiffe://t.example/ns/shop/sa/api", IssuedAt: now.Add(-10 * time.Minute), NotAfter: now.Add(50 * time.Minute)}},
		Proxies: []status.Proxy{{ID: "api-1.shop", Types: map[string]status.TypeStatus{
			"lds": {VersionSent: "v1", SentAt: now.Add(-time.Minute), VersionAcked: "v1", AckedAt: now.Add(-time.Minute)},
		}}},
	}
}

func TestACleanMeshHasNoFindings(t *testing.T) {
	r := Audit(cleanInputs(t))
	if len(r.Findings) != 0 {
		t.Fatalf("findings on a clean mesh: %+v", r.Findings)
	}
	if r.Revision != 5 || !r.GeneratedAt.Equal(now) {
		t.Fatalf("report header %+v", r)
	}
}

func TestEachWeaknessYieldsItsFinding(t *testing.T) {
	ptr := func(t time.Time) *time.Time { return &t }
	cases := []struct {
		id, resource string
		severity     Severity
		seed         func(*Inputs)
	}{
		{"mtls-permissive", "Service/shop/api", Medium, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "mode: STRICT", "mode: PERMISSIVE", 1)))
		}},
		{"mtls-disabled", "Mesh", High, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "mode: STRICT", "mode: DISABLED", 1)))
		}},
		{"service-without-authz", "Service/shop/api", Medium, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "services: [api]}", "services: [nothing]}", 1)))
		}},
		{"workload-not-allowed", "Workload/shop/users-1", Medium, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "serviceAccount: users}", "serviceAccount: api}", 1)))
		}},
		{"workload-not-allowed", "Workload/shop/api-1", Medium, func(in *Inputs) {
			// A Service change that leaves its stored Workload behind.
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "metadata: {name: api, namespace: shop}\nspec: {", "metadata: {name: api, namespace: shop}\nspec: {serviceAccounts: [api-v2], ", 1)))
		}},
		{"policy-dry-run", "AuthorizationPolicy/shop/api-callers", Low, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, "targets: {services: [api]}", "targets: {services: [api]}\n  mode: dry-run", 1)))
		}},
		{"policy-allows-all", "AuthorizationPolicy/shop/api-callers", High, func(in *Inputs) {
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, `allow if input.attributes.source.principal == "spiffe://t.example/ns/web/sa/frontend"`, `allow := true`, 1)))
		}},
		{"policy-allows-all", "AuthorizationPolicy/shop/users-by-label", High, func(in *Inputs) {
			// Not expressible as RBAC (a function call), but allows anything.
			in.Mesh = mesh.New(5, decode(t, strings.Replace(cleanMesh, `allow if input.attributes.request.http.method == "GET"`, `allow if count(sprintf("%v", [input])) >= 0`, 1)))
		}},
		{"svid-near-expiry", "spiffe://t.example/ns/shop/sa/api", High, func(in *Inputs) {
			in.Certificates[0].IssuedAt, in.Certificates[0].NotAfter = now.Add(-55*time.Minute), now.Add(5*time.Minute)
		}},
		{"agent-not-renewing", "workload/api-1.shop", High, func(in *Inputs) {
			in.Certificates[0].IssuedAt, in.Certificates[0].NotAfter = now.Add(-40*time.Minute), now.Add(20*time.Minute)
		}},
		{"root-near-expiry", "root/aa", High, func(in *Inputs) { in.Roots[0].NotAfter = now.Add(20 * time.Hour) }},
		{"root-near-expiry", "root/aa", Critical, func(in *Inputs) { in.Roots[0].NotAfter = now.Add(-time.Hour) }},
		{"token-unused", "token/old", Medium, func(in *Inputs) {
			in.Tokens = []identity.TokenInfo{{ID: "old", Namespace: "shop", ServiceAccount: "api", CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: ptr(now.Add(time.Hour))}}
		}},
		{"token-long-lived", "token/long", Medium, func(in *Inputs) {
			in.Tokens = []identity.TokenInfo{{ID: "long", CreatedAt: now.Add(-time.Hour), ExpiresAt: ptr(now.Add(30 * 24 * time.Hour)), Uses: 1}}
		}},
		{"token-never-expires", "token/forever", High, func(in *Inputs) {
			in.Tokens = []identity.TokenInfo{{ID: "forever", CreatedAt: now.Add(-time.Hour), Uses: 1}}
		}},
		{"insecure-xds", "embassy-cp", Critical, func(in *Inputs) { in.InsecureXDS = true }},
		{"anonymous-reads", "embassy-cp", Info, func(in *Inputs) { in.AnonymousReads = true }},
		{"proxy-nacking", "proxy/api-1.shop", High, func(in *Inputs) {
			ts := in.Proxies[0].Types["lds"]
			ts.VersionSent, ts.LastNack = "v2", &status.Nack{Version: "v2", Message: "bad listener", Time: now}
			in.Proxies[0].Types["lds"] = ts
		}},
		{"proxy-stale", "proxy/api-1.shop", Medium, func(in *Inputs) {
			ts := in.Proxies[0].Types["lds"]
			ts.VersionSent, ts.SentAt = "v2", now.Add(-time.Minute)
			in.Proxies[0].Types["lds"] = ts
		}},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+string(c.severity), func(t *testing.T) {
			in := cleanInputs(t)
			c.seed(&in)
			r := Audit(in)
			var found *Finding
			for i, f := range r.Findings {
				if f.ID == c.id {
					found = &r.Findings[i]
				}
			}
			if found == nil {
				t.Fatalf("no %s finding in %+v", c.id, r.Findings)
			}
			if found.Severity != c.severity || found.Title == "" || found.Fix == "" || !contains(found.Resources, c.resource) {
				t.Fatalf("finding %+v, want severity %s naming %s", found, c.severity, c.resource)
			}
			if r.Counts[c.severity] == 0 || len(r.AtOrAbove(c.severity)) == 0 {
				t.Fatalf("counts %v", r.Counts)
			}
		})
	}
}

func TestHarmlessTokensAreNotFindings(t *testing.T) {
	in := cleanInputs(t)
	past := now.Add(-time.Hour)
	in.Tokens = []identity.TokenInfo{
		{ID: "revoked", CreatedAt: now.Add(-72 * time.Hour), Revoked: true},
		{ID: "expired", CreatedAt: now.Add(-72 * time.Hour), ExpiresAt: &past},
		{ID: "spent", CreatedAt: now.Add(-72 * time.Hour), SingleUse: true, UsedAt: &past, Uses: 1},
	}
	if r := Audit(in); len(r.Findings) != 0 {
		t.Fatalf("findings %+v", r.Findings)
	}
}

func TestSeverityOrderAndParsing(t *testing.T) {
	in := cleanInputs(t)
	in.InsecureXDS, in.AnonymousReads = true, true
	r := Audit(in)
	if len(r.Findings) != 2 || r.Findings[0].Severity != Critical || r.Findings[1].Severity != Info {
		t.Fatalf("order %+v", r.Findings)
	}
	if got := len(r.AtOrAbove(High)); got != 1 {
		t.Fatalf("at or above high: %d", got)
	}
	if s, err := ParseSeverity("HIGH"); err != nil || s != High {
		t.Fatalf("parse: %v %v", s, err)
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Fatal("parsed urgent")
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
