package translate_test

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"embassy.dev/embassy/pkg/mesh"

	"embassy.dev/embassy/xds/translate"
)

// TestMergeSorts checks Merge interleaves sets by name.
func TestMergeSorts(t *testing.T) {
	s := loadSnapshot(t, "testdata/in/basic.yaml")
	out, _ := translate.Outbound(s)
	in, _ := translate.Inbound(s, translate.Proxy{Workload: "web-1", Namespace: "default"})
	m := translate.Merge(in, nil, out)
	var names []string
	for _, c := range m.Clusters {
		names = append(names, c.GetName())
	}
	want := []string{"inbound|8080", "outbound|8080||web.default"}
	if len(names) != len(want) || names[0] != want[0] || names[1] != want[1] {
		t.Errorf("clusters = %v, want %v", names, want)
	}
	if len(m.Listeners) != 2 || m.Listeners[0].GetName() != "inbound|8080" {
		t.Errorf("listeners not merged in order: %v", m.Listeners)
	}
}

// TestDeterministic translates the same input twice, from resources given
// in a different order, and expects the same bytes.
func TestDeterministic(t *testing.T) {
	for _, f := range []string{"testdata/in/lb-policies.yaml", "testdata/in/localities.yaml", "testdata/in/matches.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := decodeYAML(t, f, data)
		reversed := slices.Clone(docs)
		slices.Reverse(reversed)
		ra, _ := translate.ProxylessClient(mesh.New(1, docs))
		rb, _ := translate.ProxylessClient(mesh.New(1, reversed))
		ga, gb := goldenFiles(t, ra), goldenFiles(t, rb)
		for k := range ga {
			if !bytes.Equal(ga[k], gb[k]) {
				t.Errorf("%s: %s differ between runs", f, k)
			}
		}
	}
}
