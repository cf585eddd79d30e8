package translate_test

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/out")

// TestGolden translates every testdata/in/<case>.yaml for both flavours and
// compares with testdata/out/<case>.<flavour>.<type>.yaml.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs in testdata/in")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			goldenCase(t, name, loadSnapshot(t, in))
		})
	}
}

// TestGoldenExamples golden-checks the translation of every directory under
// examples/, reading all its YAML recursively.
func TestGoldenExamples(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	entries, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		files := yamlFiles(t, dir)
		if len(files) == 0 {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			goldenCase(t, "examples-"+e.Name(), loadSnapshot(t, files...))
		})
	}
}

// yamlFiles lists the *.yaml files under dir, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// goldenCase checks both flavours of one snapshot, validating what would be
// served before comparing it.
func goldenCase(t *testing.T, base string, s *mesh.Snapshot) {
	t.Helper()
	var envoy *translate.Resources
	if p, ok := firstWorkloadProxy(s); ok {
		envoy, _ = translate.ForProxy(s, p)
	} else {
		envoy, _ = translate.Outbound(s)
	}
	proxyless, _ := translate.ProxylessClient(s)
	for flavour, r := range map[string]*translate.Resources{"envoy": envoy, "proxyless": proxyless} {
		if err := validate.Resources(r, dataplane.SDSSecretNames()); err != nil {
			t.Errorf("%s: %s output does not validate:\n%v", base, flavour, err)
		}
	}
	checkGolden(t, base+".envoy", envoy)
	checkGolden(t, base+".proxyless", proxyless)
}
