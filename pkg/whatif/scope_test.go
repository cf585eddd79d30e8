package whatif

import (
	"context"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
)

// scopedCheckMesh has a caller front (front-1 lists its egress) and a
// service vault whose policy allows front, under the mode given.
var scopedCheckMesh = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: mesh}
spec: {trustDomain: mesh.local, mtls: {mode: PERMISSIVE}, configScoping: MODE}
` + meshtest.Served("shop", "front", "10.0.0.1", "EGRESS") + meshtest.Served("shop", "vault", "10.0.1.1") + meshtest.AllowOnly("shop", "vault", "spiffe://mesh.local/ns/shop/sa/ALLOWED")

const frontID = "spiffe://mesh.local/ns/shop/sa/front"

func scopedCheck(t *testing.T, mode, egress, allowed, from string) *Answer {
	t.Helper()
	y := strings.NewReplacer("MODE", mode, "EGRESS", egress, "ALLOWED", allowed).Replace(scopedCheckMesh)
	snap := mesh.New(1, meshtest.Decode(t, "scope.yaml", []byte(y)), mesh.WithAuthz(meshtest.CompileAuthz))
	a, err := Check(context.Background(), snap, Query{From: from, To: "vault.shop"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCheckSaysWhenTheCallersProxyIsNotSentTheService: a call the
// policies allow is still refused when the caller's proxy is never sent
// the service, and the reason is scoping's own.
func TestCheckSaysWhenTheCallersProxyIsNotSentTheService(t *testing.T) {
	a := scopedCheck(t, "explicit", ", egress: [{service: front}]", "front", frontID)
	if a.Allowed || a.Scope.Sent || a.Scope.Workload != "shop/front-1" {
		t.Fatalf("allowed %t, scope %+v: want refused, not sent to shop/front-1", a.Allowed, a.Scope)
	}
	if len(a.Reasons) != 1 || a.Reasons[0] != "not in the caller's config: "+a.Scope.Reason || !strings.Contains(a.Scope.Reason, "not listed in spec.egress") {
		t.Fatalf("reasons %q: want only \"not in the caller's config: <scoping's reason>\"", a.Reasons)
	}
	if len(a.Authorization) != 1 || !a.Authorization[0].Permitted {
		t.Fatalf("the policy should allow front: %+v", a.Authorization)
	}
	if !strings.Contains(a.Summary(), "why: not in the caller's config: not listed in spec.egress") {
		t.Errorf("summary does not say why:\n%s", a.Summary())
	}
}

// TestCheckScopeAutoAndUnscoped: under auto a service no policy lets the
// caller reach is not sent, and says so; listed egress, scoping off, and
// a caller no Workload holds are all sent it.
func TestCheckScopeAutoAndUnscoped(t *testing.T) {
	a := scopedCheck(t, "auto", "", "admin", frontID)
	if a.Scope.Sent || !strings.Contains(a.Scope.Reason, "no policy of vault can allow") || !strings.HasPrefix(strings.Join(a.Reasons, "|"), "not in the caller's config: ") {
		t.Errorf("auto, denied caller: scope %+v, reasons %q", a.Scope, a.Reasons)
	}
	for _, c := range []struct{ mode, egress, allowed, from string }{
		{"auto", "", "front", frontID},
		{"explicit", ", egress: [{service: vault}]", "front", frontID},
		{"none", ", egress: [{service: front}]", "front", frontID},
		{"explicit", ", egress: [{service: front}]", "nobody", "spiffe://mesh.local/ns/shop/sa/nobody"},
	} {
		a := scopedCheck(t, c.mode, c.egress, c.allowed, c.from)
		if !a.Scope.Sent || a.Scope.Reason == "" {
			t.Errorf("%s %q from %s: scope %+v, want sent with a reason", c.mode, c.egress, c.from, a.Scope)
		}
		for _, r := range a.Reasons {
			if strings.HasPrefix(r, "not in the caller's config") {
				t.Errorf("%s %q from %s: %s", c.mode, c.egress, c.from, r)
			}
		}
	}
}
