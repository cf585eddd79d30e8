package translate_test

import (
	"reflect"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/translate"
)

// emptyVersionMesh has one workload carrying version with an empty value,
// one without the label, and a Route to the subset {version: ""}.
const emptyVersionMesh = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: ratings}
spec:
  serviceAccounts: [default]
  ports: [{name: http, port: 9080, protocol: http}]
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: ratings-blank}
spec: {address: 10.0.7.1, services: [ratings], labels: {version: ""}}
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata: {name: ratings-unlabelled}
spec: {address: 10.0.7.2, services: [ratings]}
---
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: ratings}
spec:
  service: ratings
  rules: [{backends: [{subset: {version: ""}}]}]
`

// TestEmptyLabelValueSelectsOnlyWhatCarriesIt checks that the translator
// and the apply-time reference check read a selector's empty value alike:
// {version: ""} selects the workload carrying version="", not the one
// without the label, and with the former gone both say the subset is empty.
func TestEmptyLabelValueSelectsOnlyWhatCarriesIt(t *testing.T) {
	const cluster = "outbound|9080|version=|ratings.default"
	all := decodeYAML(t, "empty-version", []byte(emptyVersionMesh))
	r, _ := translate.Outbound(mesh.New(1, all))
	if got := endpointAddresses(r, cluster); !reflect.DeepEqual(got, []string{"10.0.7.1"}) {
		t.Errorf("%s serves %v, want only the workload carrying version=\"\" (10.0.7.1)", cluster, got)
	}
	if warnings, err := resource.CheckReferences(all); err != nil || len(warnings) != 0 {
		t.Errorf("reference check with the labelled workload: %q, %v; want no warning", warnings, err)
	}

	var rest []*resource.Resource
	for _, res := range all {
		if res.Metadata.Name != "ratings-blank" {
			rest = append(rest, res)
		}
	}
	r, _ = translate.Outbound(mesh.New(2, rest))
	if got := endpointAddresses(r, cluster); len(got) != 0 {
		t.Errorf("without the labelled workload %s serves %v, want nothing", cluster, got)
	}
	warnings, err := resource.CheckReferences(rest)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "{version=} matches no workload") {
		t.Errorf("reference check without the labelled workload: %q, %v; want the subset to match none", warnings, err)
	}
}
