package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

func TestReadFilesWalksDirectoriesSorted(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.yaml", "a/z.yml", "a/notes.txt", "c.yaml"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	explicit := filepath.Join(dir, "a/notes.txt")
	fs, err := ReadFiles([]string{dir, explicit})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fs {
		names = append(names, strings.TrimPrefix(f.Name, dir+"/"))
	}
	if got, want := strings.Join(names, " "), "a/z.yml b.yaml c.yaml a/notes.txt"; got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}
	if fs[0].Content != "a/z.yml" {
		t.Fatalf("content of a/z.yml = %q", fs[0].Content)
	}

	if _, err := ReadFiles([]string{filepath.Join(dir, "a/missing.yaml")}); err == nil {
		t.Fatal("a missing file was not an error")
	}
	empty := t.TempDir()
	if _, err := ReadFiles([]string{empty}); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Fatalf("empty directory: %v", err)
	}
}

func TestDeleteOrderPutsReferrersFirst(t *testing.T) {
	mk := func(k resource.Kind, name string) *resource.Resource {
		return &resource.Resource{Kind: k, Metadata: resource.Metadata{Name: name, Namespace: "default"}}
	}
	keys := DeleteOrder([]*resource.Resource{mk(resource.KindService, "s"), mk(resource.KindWorkload, "w"), mk(resource.KindRoute, "r")})
	var got []string
	for _, k := range keys {
		got = append(got, string(k.Kind))
	}
	if strings.Join(got, ",") != "Route,Workload,Service" {
		t.Fatalf("delete order = %v", got)
	}
}
