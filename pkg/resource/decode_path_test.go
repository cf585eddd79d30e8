package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (relative path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecodePathDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.yaml":             doc(KindService, "b", validService),
		"a.yml":              doc(KindService, "a", validService),
		"nested/deep/c.yaml": doc(KindService, "c", validService) + "---\n" + doc(KindService, "d", validService),
		"README.md":          "not yaml",
		"nested/notes.txt":   "apiVersion: nope",
	})
	rs, err := DecodePath(dir)
	if err != nil {
		t.Fatalf("DecodePath: %v", err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Metadata.Name+"@"+filepath.ToSlash(strings.TrimPrefix(r.Origin.File, dir)))
	}
	want := "a@/a.yml b@/b.yaml c@/nested/deep/c.yaml d@/nested/deep/c.yaml"
	if strings.Join(got, " ") != want {
		t.Errorf("resources in order = %q, want %q", strings.Join(got, " "), want)
	}
	if rs[3].Origin.Index != 1 {
		t.Errorf("second document of c.yaml has index %d, want 1", rs[3].Origin.Index)
	}
}

func TestDecodePathCollectsErrorsFromAllFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"1-good.yaml": doc(KindService, "a", validService),
		"2-bad.yaml":  doc(KindService, "b", "ports: [{name: http, port: 0, protocol: http}]"),
		"3-bad.yaml":  doc(KindRoute, "r", "service: a\nrulez: []"),
		"4-dup.yaml":  doc(KindService, "a", validService),
	})
	rs, err := DecodePath(dir)
	if rs != nil {
		t.Errorf("got %d resources despite errors, want none", len(rs))
	}
	errs := asErrors(t, err)
	files := map[string]bool{}
	for _, e := range errs {
		files[filepath.Base(e.File)] = true
	}
	for _, f := range []string{"2-bad.yaml", "3-bad.yaml", "4-dup.yaml"} {
		if !files[f] {
			t.Errorf("no error from %s:\n%v", f, errs)
		}
	}
	hasError(t, errs, "metadata.name", "already defined in document 0 of "+filepath.Join(dir, "1-good.yaml"))
	if !strings.Contains(err.Error(), filepath.Join(dir, "3-bad.yaml")+": document 0 at line 1 (Route default/r): spec.rulez: unknown field") {
		t.Errorf("error should name the file and path:\n%v", err)
	}
}

func TestDecodePathFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mesh.txt")
	writeFiles(t, dir, map[string]string{"mesh.txt": doc(KindMesh, "mesh", "trustDomain: example.org")})
	rs, err := DecodePath(p)
	if err != nil || len(rs) != 1 || rs[0].Origin.File != p {
		t.Fatalf("DecodePath(file) = %v, %v; want the one Mesh from %s", rs, err, p)
	}
}

func TestDecodePathProblems(t *testing.T) {
	dir := t.TempDir()
	_, err := DecodePath(filepath.Join(dir, "missing"))
	hasError(t, asErrors(t, err), "", "cannot read")

	_, err = DecodePath(dir)
	hasError(t, asErrors(t, err), "", "no *.yaml or *.yml files")
}
