// Package examples_test checks that every example mesh decodes, validates
// and has no dangling references, so the examples cannot rot.
package examples_test

import (
	"os"
	"path/filepath"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// exampleDirs lists every examples/*/ directory that holds YAML.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		yamls, _ := filepath.Glob(filepath.Join(e.Name(), "*.yaml"))
		if len(yamls) > 0 {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) < 2 {
		t.Fatalf("found example directories %v, want at least quickstart and bookstore", dirs)
	}
	return dirs
}

func TestExamplesDecodeAndReference(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		t.Run(dir, func(t *testing.T) {
			rs, err := resource.DecodePath(dir)
			if err != nil {
				t.Fatalf("decode:\n%v", err)
			}
			if len(rs) == 0 {
				t.Fatal("no resources")
			}
			warnings, err := resource.CheckReferences(rs)
			if err != nil {
				t.Fatalf("references:\n%v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w)
			}
		})
	}
}

// TestQuickstartShape pins what `make demo` relies on: the echo service on
// port 50051 with workloads at 127.0.0.1:18081 (v1) and :18082 (v2).
func TestQuickstartShape(t *testing.T) {
	rs, err := resource.DecodePath("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]uint32{}
	var servicePort uint32
	for _, r := range rs {
		switch s := r.Spec.(type) {
		case *resource.ServiceSpec:
			if r.Metadata.Name == "echo" && r.Metadata.Namespace == "default" {
				servicePort = s.Ports[0].Port
			}
		case *resource.WorkloadSpec:
			if s.Address != "127.0.0.1" || len(s.Ports) != 1 {
				t.Errorf("workload %s: address %s ports %v", r.Metadata.Name, s.Address, s.Ports)
				continue
			}
			ports[s.Labels["version"]] = s.Ports[0].Port
		}
	}
	if servicePort != 50051 {
		t.Errorf("echo service port = %d, want 50051", servicePort)
	}
	if ports["v1"] != 18081 || ports["v2"] != 18082 {
		t.Errorf("workload ports by version = %v, want v1:18081 v2:18082", ports)
	}
}
