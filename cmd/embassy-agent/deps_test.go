package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// embassy-agent holds a workload's identity on its node: it must not link
// the control plane's CA, join-token store or any storage engine, whose
// code it never runs. Node-side identity lives in pkg/spiffe and
// pkg/jointoken; a new import that pulls the CA back in fails here.
func TestAgentLinksNoStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "embassy.dev/embassy/cmd/embassy-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "embassy.dev/embassy/pkg/spiffe") {
		t.Fatalf("go list -deps gave no plausible dependency list:\n%s", out)
	}
	for _, banned := range []string{"go.etcd.io/bbolt", "go.etcd.io/etcd/client/v3", "embassy.dev/embassy/pkg/store", "embassy.dev/embassy/pkg/identity"} {
		if slices.Contains(deps, banned) {
			t.Errorf("embassy-agent links %s: find the import with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/embassy-agent`", banned)
		}
	}
}
