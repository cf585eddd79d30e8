package translate_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// decodeYAML reads multi-document YAML of our resources without
// validating it (see meshtest.Decode).
func decodeYAML(t testing.TB, name string, data []byte) []*resource.Resource {
	t.Helper()
	return meshtest.Decode(t, name, data)
}

// loadSnapshot decodes files into a snapshot.
func loadSnapshot(t testing.TB, files ...string) *mesh.Snapshot {
	t.Helper()
	var all []*resource.Resource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, decodeYAML(t, f, data)...)
	}
	return mesh.New(1, all, mesh.WithAuthz(compileAuthz))
}

// firstWorkloadProxy is the Envoy proxy of the snapshot's first workload,
// or false when there is none.
func firstWorkloadProxy(s *mesh.Snapshot) (translate.Proxy, bool) {
	if len(s.Workloads) == 0 {
		return translate.Proxy{}, false
	}
	w := s.Workloads[0]
	return translate.Proxy{ID: w.Name + "." + w.Namespace, Flavour: translate.Envoy, Workload: w.Name, Namespace: w.Namespace}, true
}

// toYAML renders resources as a YAML list of their protojson forms.
// protojson's spacing is deliberately unstable; going through YAML
// normalises it.
func toYAML[M proto.Message](t testing.TB, ms []M) []byte {
	t.Helper()
	parts := make([]string, len(ms))
	for i, m := range ms {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = string(b)
	}
	y, err := yaml.JSONToYAML([]byte("[" + strings.Join(parts, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// goldenFiles renders a resource set as the four golden documents.
func goldenFiles(t testing.TB, r *translate.Resources) map[string][]byte {
	return map[string][]byte{
		"listeners": toYAML(t, r.Listeners),
		"routes":    toYAML(t, r.Routes),
		"scopes":    toYAML(t, r.ScopedRoutes),
		"clusters":  toYAML(t, r.Clusters),
		"endpoints": toYAML(t, r.Endpoints),
	}
}

// checkGolden compares (or with -update rewrites) out/<base>.<kind>.yaml.
func checkGolden(t *testing.T, base string, r *translate.Resources) {
	t.Helper()
	files := goldenFiles(t, r)
	kinds := make([]string, 0, len(files))
	for k := range files {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		path := filepath.Join("testdata", "out", fmt.Sprintf("%s.%s.yaml", base, kind))
		got := files[kind]
		// Only sidecars get scopes: a set without any has no scopes file,
		// and one that should have some fails on the missing file.
		optional := kind == "scopes" && string(got) == "[]\n"
		if *update && optional {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if optional && os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v (run go test ./xds/translate -update)", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the translation (run go test ./xds/translate -update and review the diff):\n%s", path, lineDiff(string(want), string(got)))
		}
	}
}

// lineDiff shows the first lines where want and got part ways.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return "(identical lines)"
}

// validateResources validates what would be served, with the SDS secrets
// the agent serves beside each sidecar.
func validateResources(r *translate.Resources) error {
	return validate.Resources(r, dataplane.SDSSecretNames())
}
