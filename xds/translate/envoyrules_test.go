package translate_test

import (
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
)

// everyProxy is the set each proxy of a snapshot is served: every
// workload's Envoy sidecar and proxyless server, a sidecar without a
// workload, and a proxyless client.
func everyProxy(s *mesh.Snapshot) map[string]*translate.Resources {
	out := map[string]*translate.Resources{}
	out["envoy without a workload"], _ = translate.Outbound(s)
	out["proxyless client"], _ = translate.ProxylessClient(s)
	for _, w := range s.Workloads {
		id := w.Name + "." + w.Namespace
		for _, f := range []translate.Flavour{translate.Envoy, translate.Proxyless} {
			out[string(f)+" "+id], _ = translate.ForProxy(s, translate.Proxy{ID: id, Flavour: f, Workload: w.Name, Namespace: w.Namespace})
		}
	}
	return out
}

// corpus is every translator test case and example mesh, by name.
func corpus(t *testing.T) map[string]*mesh.Snapshot {
	out := map[string]*mesh.Snapshot{}
	inputs, err := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		out[strings.TrimSuffix(filepath.Base(in), ".yaml")] = loadSnapshot(t, in)
	}
	dirs, err := filepath.Glob(filepath.Join("..", "..", "examples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if files := yamlFiles(t, d); len(files) > 0 {
			out["examples-"+filepath.Base(d)] = loadSnapshot(t, files...)
		}
	}
	return out
}

// TestCorpusKeepsEnvoyRules runs the checker over what every proxy of
// every test case and example is served.
func TestCorpusKeepsEnvoyRules(t *testing.T) {
	for name, s := range corpus(t) {
		for proxy, r := range everyProxy(s) {
			if vs := envoyrules.Check(r); len(vs) > 0 {
				t.Errorf("%s, %s:\n%v", name, proxy, vs.Err())
			}
		}
	}
}
