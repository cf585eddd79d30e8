package controlplane

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/sandbox"
)

// tightRego keeps the runaway's death quick; the budget still fits every
// well-behaved policy of these tests.
var tightRego = sandbox.Limits{Timeout: 20 * time.Second, Memory: 128 << 20}

func testSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(tightRego, sandbox.CompileWorkers)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runawayDoc targets web with a rule that asks one builtin call for a
// 400 MB string when partially evaluated.
const runawayDoc = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: runaway, namespace: shop}
spec:
  targets: {services: [web]}
  modules:
  - name: runaway.rego
    rego: |
      package envoy.authz
      xs := concat("", ["x" | some i in numbers.range(1, 20000)])
      allow if count(replace(xs, "x", xs)) > 0
`

func withTightRego(c *Config) { c.Rego = tightRego }

func TestRunawayPolicyIsRefusedAtApply(t *testing.T) {
	var logs syncbuf.Buffer
	cp := startCP(t, t.TempDir(), &logs, withTightRego)
	defer cp.Close()
	rs, err := resource.Decode("runaway.yaml", []byte(runawayDoc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cp.applier.Apply(context.Background(), rs, false)
	for _, want := range []string{"shop/runaway", "memory budget of 128 MiB", "--" + sandbox.FlagMemory, "spec.modules", "runaway.yaml"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("apply error %v: want it to name %q", err, want)
		}
	}
	_, err = cp.Store().Get(context.Background(), resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: "shop", Name: "runaway"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused policy was stored: %v", err)
	}
}

// TestStoredRunawayPolicyFailsClosed stores the runaway past the apply
// check (as a store written by an older embassy-cp could hold it): it is
// marked failed with an event, the others compile, later changes are
// still pushed, a restart is ready, and deleting it clears the failure.
func TestStoredRunawayPolicyFailsClosed(t *testing.T) {
	var logs syncbuf.Buffer
	dir := t.TempDir()
	cp := startCP(t, dir, &logs, withTightRego)
	applyYAML(t, cp, meshAuthz+"---\n"+runawayDoc)
	snap := waitSnapshot(t, cp, func(s *mesh.Snapshot) bool { return policyNamed(s, "runaway") != nil })
	assertRunawayFailed(t, snap)
	if !hasFailedEvent(cp.Events().Recent(0), "AuthorizationPolicy/shop/runaway") {
		t.Errorf("no policy event says runaway failed: %+v", cp.Events().Recent(0))
	}
	applyYAML(t, cp, `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: later, namespace: shop}
spec:
  ports: [{name: http, port: 8082, protocol: http}]
`)
	waitSnapshot(t, cp, func(s *mesh.Snapshot) bool {
		return s.Service(mesh.ServiceRef{Namespace: "shop", Name: "later"}) != nil
	})
	cp.Close()

	start := time.Now()
	cp = startCP(t, dir, &logs, withTightRego)
	defer cp.Close()
	t.Logf("restart with the runaway stored took %v", time.Since(start))
	assertRunawayFailed(t, cp.snapshot())

	key := resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: "shop", Name: "runaway"}
	if _, err := cp.applier.Delete(context.Background(), []resource.Key{key}, false); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, cp, func(s *mesh.Snapshot) bool { return policyNamed(s, "runaway") == nil })
}

func assertRunawayFailed(t *testing.T, s *mesh.Snapshot) {
	t.Helper()
	for _, p := range s.AuthorizationPolicies {
		switch {
		case p.Name == "runaway" && (p.Compiled == nil || !strings.Contains(p.Compiled.Err, "memory budget of 128 MiB")):
			t.Errorf("runaway: compiled %+v, want failed at the memory budget", p.Compiled)
		case p.Name != "runaway" && (p.Compiled == nil || p.Compiled.Err != "" || !p.Compiled.Compiled):
			t.Errorf("%s: compiled %+v, want RBAC", p.Name, p.Compiled)
		}
	}
}

func policyNamed(s *mesh.Snapshot, name string) *mesh.AuthorizationPolicy {
	for _, p := range s.AuthorizationPolicies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func hasFailedEvent(es []events.Event, res string) bool {
	for _, e := range es {
		if e.Kind == events.KindPolicy && len(e.Resources) == 1 && e.Resources[0] == res && strings.HasPrefix(e.Message, "failed: ") {
			return true
		}
	}
	return false
}

// waitSnapshot polls the published snapshot until ok, for at most 30s.
func waitSnapshot(t *testing.T, cp *ControlPlane, ok func(*mesh.Snapshot) bool) *mesh.Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := cp.snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such snapshot within 30s; last revision %d", s.Revision)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
