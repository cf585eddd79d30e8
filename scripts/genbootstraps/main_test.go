package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/dataplane"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

func TestWritesOneValidBootstrapPerWorkload(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	root := filepath.Join("..", "..", "examples")
	err := run([]string{"--out", out, filepath.Join(root, "quickstart"), filepath.Join(root, "bookstore")}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	files, err := filepath.Glob(filepath.Join(out, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// 2 quickstart workloads, 18 bookstore workloads.
	if len(files) != 20 {
		t.Fatalf("wrote %d files, want 20: %v", len(files), files)
	}
	if want := "wrote 20 Envoy bootstraps to " + out; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	for _, f := range files {
		y, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		var b bootstrapv3.Bootstrap
		if err := protojson.Unmarshal(js, &b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := b.ValidateAll(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); b.GetNode().GetId() != want {
			t.Errorf("%s: node id %q", f, b.GetNode().GetId())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "reviews-v3.shop.yaml")); err != nil {
		t.Errorf("missing the bootstrap of reviews-v3.shop: %v", err)
	}
	// The quickstart's Mesh says example.org; its bootstraps used to pin
	// embassy.local and could never have connected.
	y, err := os.ReadFile(filepath.Join(out, "echo-v1.default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := dataplane.ControlPlaneIDString("example.org"); !strings.Contains(string(y), want) {
		t.Errorf("echo-v1.default's bootstrap does not pin %s:\n%s", want, y)
	}
}

func TestRequiresOut(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(nil, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("err = %v", err)
	}
}
