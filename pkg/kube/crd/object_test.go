package crd

import (
	"strings"
	"testing"
)

const routeObject = `{"apiVersion":"embassy.dev/v1alpha1","kind":"Route",
"metadata":{"name":"echo","namespace":"shop","uid":"u1","resourceVersion":"7","generation":1,
"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"},"managedFields":[{"manager":"kubectl"}]},
"spec":{"service":"echo","rules":[{"backends":[{"weight":100}]}]}}`

func TestDecodeDropsTheAPIServersMetadata(t *testing.T) {
	rs, err := Decode([]byte(routeObject))
	if err != nil {
		t.Fatalf("a Route as the API server holds it: %v", err)
	}
	if len(rs) != 1 || rs[0].Key().String() != "Route/shop/echo" || rs[0].Metadata.Annotations != nil {
		t.Fatalf("decoded %+v", rs[0])
	}
	_, err = Decode([]byte(strings.Replace(routeObject, `"service":"echo"`, `"service":"echo","colour":"red"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "colour") || !strings.Contains(err.Error(), "Route shop/echo") {
		t.Fatalf("an unknown spec field: %v", err)
	}
}

// FuzzDecode: whatever the API server sends, Decode returns resources or
// an error, never panics, and never a resource of another name.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(routeObject))
	f.Add([]byte(`{"apiVersion":"embassy.dev/v1alpha1","kind":"Mesh","metadata":{"name":"m"},"spec":{"trustDomain":"example.org"}}`))
	f.Add([]byte(`{"kind":"AuthorizationPolicy","metadata":{"name":"p","namespace":"a"},"spec":{"modules":[{"name":"a.rego","rego":"package x"}]}}`))
	f.Add([]byte(`{"spec":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rs, err := Decode(raw)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r == nil || r.Spec == nil {
				t.Fatalf("Decode returned an empty resource for %q", raw)
			}
		}
	})
}
