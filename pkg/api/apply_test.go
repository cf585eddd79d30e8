package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/apply"
)

func TestApplyCreatesThenReportsUnchanged(t *testing.T) {
	h := newHarness(t, nil)
	for i, want := range []apply.Action{apply.Created, apply.Unchanged} {
		code, body := h.applyFiles(false, apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho + "---\n" + meshtest.RouteEcho})
		if code != http.StatusOK {
			t.Fatalf("apply %d: %d %s", i, code, body)
		}
		var res apply.Result
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("decode result: %v", err)
		}
		if len(res.Items) != 2 || res.Items[0].Action != want || res.Items[1].Action != want || res.Revision != 1 {
			t.Fatalf("apply %d: %+v, want two %s items at revision 1", i, res, want)
		}
	}
}

func TestApplyDryRunStoresNothing(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.applyFiles(true, apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho})
	if code != http.StatusOK || !strings.Contains(string(body), `"dryRun": true`) {
		t.Fatalf("dry-run apply: %d %s", code, body)
	}
	if h.st.Revision() != 0 {
		t.Fatalf("dry run moved the revision to %d", h.st.Revision())
	}
}

// TestApplyRefusesBadInput sends one good and one bad document per case,
// and expects a 400 naming the file, the bad document and the field, with
// nothing stored.
func TestApplyRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		// want are substrings the error must contain, besides the file
		// and document.
		want []string
	}{
		{
			name: "malformed YAML",
			doc:  "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: [oops\n",
			want: nil,
		},
		{
			name: "unknown kind",
			doc:  "apiVersion: embassy.dev/v1alpha1\nkind: Gateway\nmetadata: {name: gw}\nspec: {}\n",
			want: []string{"kind", "Gateway"},
		},
		{
			name: "unknown field",
			doc:  strings.Replace(meshtest.ServiceEcho, "    protocol: http\n", "    protocol: http\n    protocl: http\n", 1),
			want: []string{"spec.ports[0].protocl"},
		},
		{
			name: "missing required field",
			doc:  strings.Replace(meshtest.RouteEcho, "  service: echo\n", "", 1),
			want: []string{"spec.service"},
		},
		{
			name: "dangling service reference",
			doc:  strings.Replace(meshtest.RouteEcho, "service: echo", "service: nowhere", 1),
			want: []string{"spec.service", "nowhere"},
		},
		{
			name: "negative weight",
			doc:  strings.Replace(meshtest.RouteEcho, "weight: 1", "weight: -5", 1),
			want: []string{"spec.rules[0].backends[0].weight"},
		},
		{
			name: "all weights zero",
			doc:  strings.Replace(meshtest.RouteEcho, "    - weight: 1\n", "    - weight: 0\n      subset: {v: a}\n    - weight: 0\n      subset: {v: b}\n", 1),
			want: []string{"spec.rules[0].backends"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.mustApply(apiwire.File{Name: "seed.yaml", Content: strings.Replace(meshtest.ServiceEcho, "name: echo", "name: seed", 1)})
			rev := h.st.Revision()

			code, body := h.applyFiles(false,
				apiwire.File{Name: "good.yaml", Content: meshtest.ServiceEcho},
				apiwire.File{Name: "dir/bad.yaml", Content: strings.Replace(meshtest.ServiceEcho, "name: echo", "name: fine", 1) + "---\n" + tc.doc},
			)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", code, body)
			}
			er := errorOf(t, body)
			for _, want := range append([]string{"dir/bad.yaml", "document 1"}, tc.want...) {
				if !strings.Contains(er.Error, want) {
					t.Errorf("error does not contain %q:\n%s", want, er.Error)
				}
			}
			if len(er.Details) == 0 || er.Details[0].File != "dir/bad.yaml" || er.Details[0].Index != 1 {
				t.Errorf("details do not point at dir/bad.yaml document 1: %+v", er.Details)
			}
			if h.st.Revision() != rev {
				t.Fatalf("refused apply moved the revision from %d to %d", rev, h.st.Revision())
			}
		})
	}
}

func TestApplyCollectsErrorsFromEveryFile(t *testing.T) {
	h := newHarness(t, nil)
	neg := strings.Replace(meshtest.RouteEcho, "weight: 1", "weight: -1", 1)
	code, body := h.applyFiles(false,
		apiwire.File{Name: "a.yaml", Content: meshtest.ServiceEcho + "---\n" + neg},
		apiwire.File{Name: "b.yaml", Content: "kind: Nope\n"},
	)
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", code, body)
	}
	er := errorOf(t, body)
	if !strings.Contains(er.Error, "a.yaml") || !strings.Contains(er.Error, "b.yaml") {
		t.Fatalf("error does not name both files:\n%s", er.Error)
	}
}

func TestApplyRejectsOversizedBody(t *testing.T) {
	h := newHarness(t, nil)
	big := strings.Repeat("#", MaxApplyBytes)
	code, body := h.applyFiles(false, apiwire.File{Name: "big.yaml", Content: big})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(t, body).Error, "8 MiB") {
		t.Fatalf("oversized apply: %d %s", code, body)
	}
}

func TestApplyRejectsEmptyRequest(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.applyFiles(false)
	if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body).Error, "no files") {
		t.Fatalf("empty apply: %d %s", code, body)
	}
}

// TestApplyReportsSchemaAndRegoErrorsTogether applies a Service with a
// port out of range beside a policy whose Rego does not parse: the answer
// must name both, not stop at the schema error, and store nothing.
func TestApplyReportsSchemaAndRegoErrorsTogether(t *testing.T) {
	h := newHarness(t, nil)
	badPort := strings.Replace(meshtest.ServiceEcho, "port: 8080", "port: 70000", 1)
	if badPort == meshtest.ServiceEcho {
		t.Fatal("meshtest.ServiceEcho has no port 8080 to break")
	}
	badRego := `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: default}
spec:
  targets: {services: [echo]}
  modules:
    - name: broken.rego
      rego: |
        package envoy.authz
        allow if {
`
	code, body := h.applyFiles(false,
		apiwire.File{Name: "echo.yaml", Content: badPort},
		apiwire.File{Name: "authz.yaml", Content: badRego},
	)
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", code, body)
	}
	er := errorOf(t, body)
	if !strings.Contains(er.Error, "echo.yaml") || !strings.Contains(er.Error, "70000") ||
		!strings.Contains(er.Error, "authz.yaml") || !strings.Contains(er.Error, "broken.rego:") {
		t.Fatalf("the answer does not name both the schema and the Rego error:\n%s", er.Error)
	}
	if h.st.Revision() != 0 {
		t.Fatalf("a refused apply moved the revision to %d", h.st.Revision())
	}
}
