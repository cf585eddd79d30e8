package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/resource"
)

// dryRuns records what it was asked and refuses Routes; the real applier
// answers in the Kubernetes end-to-end test.
type dryRuns struct{ dry []bool }

func (d *dryRuns) Apply(_ context.Context, rs []*resource.Resource, dryRun bool) (*apply.Result, error) {
	d.dry = append(d.dry, dryRun)
	if rs[0].Kind == resource.KindRoute {
		return nil, errors.New("spec.rules[0].timeout: bad")
	}
	return &apply.Result{}, nil
}

func call(t *testing.T, a Applier, op admissionv1.Operation, obj string) *admissionv1.AdmissionResponse {
	t.Helper()
	body, _ := json.Marshal(admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{UID: "u", Operation: op, Object: runtime.RawExtension{Raw: []byte(obj)}}})
	rec := httptest.NewRecorder()
	Handler(a).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil || ar.Response == nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return ar.Response
}

func TestTheWebhookIsADryRunOfApply(t *testing.T) {
	a := &dryRuns{}
	route := `{"apiVersion":"embassy.dev/v1alpha1","kind":"Route","metadata":{"name":"r","namespace":"a","uid":"x"},"spec":{"service":"s","rules":[{"backends":[{"weight":100}]}]}}`
	if r := call(t, a, admissionv1.Create, route); r.Allowed || r.Result == nil || r.Result.Message != "spec.rules[0].timeout: bad" {
		t.Fatalf("a refused apply: %+v", r)
	}
	mesh := `{"apiVersion":"embassy.dev/v1alpha1","kind":"Mesh","metadata":{"name":"m"},"spec":{"trustDomain":"example.org"}}`
	if r := call(t, a, admissionv1.Update, mesh); !r.Allowed || r.UID != "u" {
		t.Fatalf("an accepted apply: %+v", r)
	}
	if len(a.dry) != 2 || !a.dry[0] || !a.dry[1] {
		t.Fatalf("applies %v: want two dry runs", a.dry)
	}
	if r := call(t, a, admissionv1.Create, `{"kind":"Route","metadata":{"name":"r"},"spec":{"nope":1}}`); r.Allowed {
		t.Fatal("a document that does not decode was allowed")
	}
}
