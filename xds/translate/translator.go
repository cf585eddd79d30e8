package translate

import (
	"fmt"
	"sort"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// translator carries one translation's inputs and the diagnostics it
// collects. It lives for a single call of an exported function, so the
// package keeps no state between calls.
type translator struct {
	s       *mesh.Snapshot
	flavour Flavour
	diags   []Diagnostic
	// subsets holds the label-subset clusters routes reference, by name;
	// only those are generated, since every possible subset is unbounded.
	subsets map[string]clusterRef
}

func newTranslator(s *mesh.Snapshot, f Flavour) *translator {
	return &translator{s: s, flavour: f, subsets: map[string]clusterRef{}}
}

// clusterRef is one outbound cluster: a service port, optionally narrowed
// to the endpoints whose labels include subset.
type clusterRef struct {
	svc    *mesh.Service
	port   resource.ServicePort
	subset map[string]string
}

// cluster is the mesh's view of the same cluster, which names it and
// picks its endpoints.
func (c clusterRef) cluster() mesh.Cluster {
	return mesh.Cluster{Service: c.svc, Port: c.port, Subset: c.subset}
}

func (c clusterRef) name() string { return c.cluster().Name() }

// diag records a diagnostic against a mesh resource.
func (t *translator) diag(kind resource.Kind, namespace, name, format string, args ...any) {
	key := resource.Key{Kind: kind, Namespace: namespace, Name: name}
	t.diags = append(t.diags, Diagnostic{Resource: key.String(), Message: fmt.Sprintf(format, args...)})
}

// diagnostics returns the collected diagnostics sorted and without
// duplicates: builders shared by routes and clusters may report the same
// problem twice, and callers compare lists between revisions.
func (t *translator) diagnostics() []Diagnostic {
	return sortDiagnostics(t.diags)
}

func sortDiagnostics(ds []Diagnostic) []Diagnostic {
	if len(ds) == 0 {
		return nil
	}
	out := append([]Diagnostic(nil), ds...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Message < out[j].Message
	})
	uniq := out[:1]
	for _, d := range out[1:] {
		if d != uniq[len(uniq)-1] {
			uniq = append(uniq, d)
		}
	}
	return uniq
}

// isHTTPFamily is mesh.IsHTTPFamily under the short name this package's
// many call sites read.
func isHTTPFamily(protocol string) bool { return mesh.IsHTTPFamily(protocol) }

// usesHTTP2 reports whether a port's upstreams must be spoken to in HTTP/2.
func usesHTTP2(protocol string) bool {
	return protocol == resource.ProtocolHTTP2 || protocol == resource.ProtocolGRPC
}
