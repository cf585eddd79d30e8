package controlplane

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

var meshAuthz = meshtest.ServiceWebShop + `---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: pay, namespace: shop}
spec:
  ports: [{name: http, port: 8081, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: web-1, namespace: shop}
spec: {address: 127.0.0.1, services: [web], serviceAccount: web, labels: {app: web}}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: pay-1, namespace: shop}
spec: {address: 127.0.0.2, services: [pay], serviceAccount: pay}
---
` + policyDoc("web-methods", "services: [web]", `input.attributes.request.http.method == "GET"`) + `---
` + policyDoc("by-label", "selector: {matchLabels: {app: web}}", `input.attributes.request.http.path == "/"`) + `---
` + policyDoc("pay-only", "services: [pay]", `input.attributes.request.http.method == "POST"`)

func policyDoc(name, targets, cond string) string {
	return `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ` + name + `, namespace: shop}
spec:
  targets: {` + targets + `}
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if ` + cond + `
`
}

// bundles reads the authorization bundles of a response by name.
func bundles(t *testing.T, resp *discovery.DiscoveryResponse) map[string]*compile.Bundle {
	t.Helper()
	out := map[string]*compile.Bundle{}
	for _, a := range resp.GetResources() {
		ec := &core.TypedExtensionConfig{}
		if err := a.UnmarshalTo(ec); err != nil {
			t.Fatal(err)
		}
		bv := &wrapperspb.BytesValue{}
		if err := ec.GetTypedConfig().UnmarshalTo(bv); err != nil {
			t.Fatalf("%s: %v", ec.GetName(), err)
		}
		b := &compile.Bundle{}
		if err := json.Unmarshal(bv.GetValue(), b); err != nil {
			t.Fatalf("%s: %v", ec.GetName(), err)
		}
		out[ec.GetName()] = b
	}
	return out
}

func TestAgentReceivesTheBundlesOfPoliciesTargetingItsWorkload(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cp := startCP(t, t.TempDir(), logs)
	defer cp.Close()
	applyYAML(t, cp, meshAuthz)
	web, _ := attest(t, cp, "shop", "web")
	ads := dialXDS(t, cp, &web)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-1.shop", UserAgentName: "embassy-agent"}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ExtensionConfigType, Node: node}); err != nil {
		t.Fatal(err)
	}
	first := recvUntil(t, stream, node, func(r *discovery.DiscoveryResponse) bool { return len(r.GetResources()) > 0 })
	got := bundles(t, first)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := "embassy.authz/shop/by-label embassy.authz/shop/web-methods"; strings.Join(names, " ") != want {
		t.Fatalf("bundles sent to web-1 = %v, want %s", names, want)
	}
	wantVersion := got["embassy.authz/shop/by-label"].Revision() + "," + got["embassy.authz/shop/web-methods"].Revision()
	if first.GetVersionInfo() != wantVersion {
		t.Errorf("version = %q, want the bundle revisions %q", first.GetVersionInfo(), wantVersion)
	}
	poll.Until(t, "the ACK of the bundles is recorded", func() bool {
		for _, p := range cp.XDS().Proxies() {
			if p.ID == "web-1.shop" && p.Types[resourcev3.ExtensionConfigType].VersionAcked == wantVersion {
				return true
			}
		}
		return false
	})

	// Changing one policy sends a new version with its new revision.
	applyYAML(t, cp, policyDoc("web-methods", "services: [web]", `input.attributes.request.http.method == "HEAD"`))
	next := recvUntil(t, stream, node, func(r *discovery.DiscoveryResponse) bool { return r.GetVersionInfo() != first.GetVersionInfo() })
	changed := bundles(t, next)
	if len(changed) != 2 {
		t.Fatalf("after the change web-1 got %d bundles, want 2", len(changed))
	}
	newRev := changed["embassy.authz/shop/web-methods"].Revision()
	if newRev == got["embassy.authz/shop/web-methods"].Revision() {
		t.Error("the changed policy kept its revision")
	}
	if !strings.Contains(next.GetVersionInfo(), newRev) || next.GetVersionInfo() == first.GetVersionInfo() {
		t.Errorf("version after the change = %q, want one holding %s", next.GetVersionInfo(), newRev)
	}
}

// recvUntil reads responses, ACKing each, until one satisfies done: the
// first answer may come from the snapshot before the test's apply.
func recvUntil(t *testing.T, stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, node *core.Node, done func(*discovery.DiscoveryResponse) bool) *discovery.DiscoveryResponse {
	t.Helper()
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		ack := &discovery.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), Node: node, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
		if err := stream.Send(ack); err != nil {
			t.Fatal(err)
		}
		if done(resp) {
			return resp
		}
	}
}

func TestPolicyCompilesOncePerSpec(t *testing.T) {
	rs, err := resource.Decode("authz.yaml", []byte(meshAuthz))
	if err != nil {
		t.Fatal(err)
	}
	c := newAuthzCache(testSandbox(t))
	a := mesh.New(1, rs, mesh.WithAuthz(c.compile))
	b := mesh.New(2, rs, mesh.WithAuthz(c.compile))
	for i := range a.AuthorizationPolicies {
		pa, pb := a.AuthorizationPolicies[i], b.AuthorizationPolicies[i]
		if pa.Compiled == nil || pa.Compiled != pb.Compiled {
			t.Errorf("%s was compiled again for an unchanged spec", pa.Name)
		}
		if !pa.Compiled.Compiled || pa.Compiled.Revision == "" || len(pa.Compiled.Bundle) == 0 {
			t.Errorf("%s: compiled = %+v, want RBAC, a revision and a bundle", pa.Name, pa.Compiled)
		}
	}
	c.prune(mesh.New(3, nil))
	if len(c.entries) != 0 {
		t.Errorf("%d entries left after every policy was deleted", len(c.entries))
	}
}
