package meshtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/resource"
)

// Decode reads multi-document YAML of our resources without validating
// it, so tests can feed the translator and what-if inputs the strict
// decoder refuses (a rule without backends, a header match with no
// matcher). Documents split on "---" lines, each decoded through JSON into
// resource.Resource, with namespaced kinds defaulting to "default".
func Decode(t testing.TB, name string, data []byte) []*resource.Resource {
	t.Helper()
	var out []*resource.Resource
	for i, doc := range splitDocuments(data) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		r := &resource.Resource{}
		if err := json.Unmarshal(js, r); err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		if r.Kind.Namespaced() && r.Metadata.Namespace == "" {
			r.Metadata.Namespace = resource.DefaultNamespace
		}
		out = append(out, r)
	}
	return out
}

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " \t") == "---" {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text())
		cur.WriteByte('\n')
	}
	return append(docs, cur.Bytes())
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}
