package resource

import (
	"strings"
	"testing"
)

func TestDecodeMultiDocument(t *testing.T) {
	data := "---\n# the mesh\n" + doc(KindMesh, "mesh", "trustDomain: example.org") +
		"---\n\n---\n# only a comment\n---\n" + doc(KindService, "reviews", validService) +
		"---\n" + doc(KindRoute, "reviews", "service: reviews\nrules:\n- backends: [{}]")
	rs, err := Decode("mesh.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(rs) != 3 {
		t.Fatalf("got %d resources, want 3 (empty documents skipped)", len(rs))
	}
	for i, want := range []Key{{KindMesh, "", "mesh"}, {KindService, "default", "reviews"}, {KindRoute, "default", "reviews"}} {
		if rs[i].Key() != want {
			t.Errorf("resource %d key = %v, want %v", i, rs[i].Key(), want)
		}
		if rs[i].Origin == nil || rs[i].Origin.File != "mesh.yaml" || rs[i].Origin.Index != i {
			t.Errorf("resource %d origin = %+v, want mesh.yaml document %d", i, rs[i].Origin, i)
		}
	}
	svc, ok := rs[1].Spec.(*ServiceSpec)
	if !ok || len(svc.Ports) != 1 || svc.Ports[0].Port != 9080 {
		t.Errorf("Service spec = %#v, want *ServiceSpec with port 9080", rs[1].Spec)
	}
}

func TestDecodeOneBadDocumentRefusesAll(t *testing.T) {
	data := join(doc(KindService, "reviews", validService),
		doc(KindRoute, "reviews", "service: reviews\nrules:\n- backends: [{weight: 1}, {weight: -5}]"),
		doc(KindService, "ratings", validService))
	rs, err := Decode("mesh.yaml", data)
	if rs != nil {
		t.Errorf("got %d resources from a file with a bad document, want none", len(rs))
	}
	errs := asErrors(t, err)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
	}
	want := "mesh.yaml: document 1 at line 9 (Route default/reviews): spec.rules[0].backends[1].weight: must be >= 0, got -5"
	if got := errs[0].Error(); got != want {
		t.Errorf("message\n got: %s\nwant: %s", got, want)
	}
	e := errs[0]
	if e.File != "mesh.yaml" || e.Index != 1 || e.Line != 9 || e.Kind != KindRoute || e.Namespace != "default" || e.Name != "reviews" {
		t.Errorf("fields = %+v", e)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	data := join(
		doc(KindRoute, "a", "service: a\nrules:\n- backends: [{weight: -1}]\n  timeout: forever"),
		doc(KindService, "b", "ports: [{name: http, port: 0, protocol: udp}]"),
	)
	_, err := Decode("f.yaml", data)
	errs := asErrors(t, err)
	hasError(t, errs, "spec.rules[0].backends[0].weight", "must be >= 0")
	hasError(t, errs, "spec.rules[0].timeout", "must be a duration")
	hasError(t, errs, "spec.ports[0].port", "must be from 1 to 65535")
	hasError(t, errs, "spec.ports[0].protocol", "must be one of")
	if len(errs) != 4 {
		t.Errorf("got %d errors, want 4:\n%v", len(errs), errs)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 4 {
		t.Errorf("Error() printed %d lines, want one per problem:\n%v", len(lines), err)
	}
}

func TestDecodeUnknownFields(t *testing.T) {
	runDecodeErrors(t, []decodeCase{
		{"nested list", doc(KindRoute, "r", "service: a\nrules:\n- backends: [{}]\n- matchs: [{path: {prefix: /}}]\n  backends: [{}]"),
			"spec.rules[1].matchs", "unknown field; expected one of name, matches, backends, timeout, idleTimeout, retries"},
		{"deep in lists", doc(KindRoute, "r", "service: a\nrules:\n- matches: [{path: {prefix: /}}, {headers: [{name: h, exact: x, glob: y}]}]\n  backends: [{}]"),
			"spec.rules[0].matches[1].headers[0].glob", "unknown field; expected one of name, exact, prefix, suffix, regex"},
		{"under a pointer", doc(KindRoute, "r", "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 2, jitter: 1s}"),
			"spec.rules[0].retries.jitter", "expected one of attempts, perTryTimeout, retryOn"},
		{"spec top", doc(KindService, "s", validService+"protocol: http"),
			"spec.protocol", "expected one of ports, endpoints"},
		{"metadata", "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: s, lables: {a: b}}\nspec: {ports: [{name: a, port: 1, protocol: tcp}]}\n",
			"metadata.lables", "expected one of name, namespace, labels, annotations"},
		{"top level", doc(KindService, "s", validService) + "status: {}\n",
			"status", "unknown field; expected one of apiVersion, kind, metadata, spec"},
		{"case matters", doc(KindRoute, "r", "Service: a\nrules:\n- backends: [{}]"),
			"spec.Service", "unknown field"},
		{"selector", doc(KindAuthorizationPolicy, "p", "targets: {selector: {labels: {a: b}}}\nmodules: [{name: a.rego, rego: x}]"),
			"spec.targets.selector.labels", "expected one of matchLabels"},
	})
}

func TestDecodeAnythingGoesInData(t *testing.T) {
	rs := mustDecode(t, doc(KindAuthorizationPolicy, "p",
		"targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\ndata: {anything: [1, {nested: true}], goes: null}"))
	spec := rs[0].Spec.(*AuthorizationPolicySpec)
	if !strings.Contains(string(spec.Data), `"nested":true`) {
		t.Errorf("data = %s, want the nested object kept", spec.Data)
	}
}

func TestDecodeTypeErrors(t *testing.T) {
	runDecodeErrors(t, []decodeCase{
		{"string for number", doc(KindService, "s", "ports: [{name: a, port: '80', protocol: http}]"),
			"spec.ports[0].port", `expected an integer, got string "80"`},
		{"negative unsigned", doc(KindService, "s", "ports: [{name: a, port: -80, protocol: http}]"),
			"spec.ports[0].port", "expected an integer from 0 to 4294967295, got -80"},
		{"fraction", doc(KindRoute, "r", "service: a\nrules:\n- backends: [{weight: 1.5}]"),
			"spec.rules[0].backends[0].weight", "expected an integer from -2147483648 to 2147483647, got 1.5"},
		{"number for string label", doc(KindRoute, "r", "service: a\nrules:\n- backends: [{subset: {version: 2}}]"),
			"spec.rules[0].backends[0].subset.version", "expected a string, got number 2 (quote the value)"},
		{"yaml boolean", doc(KindTrafficPolicy, "t", "service: yes"),
			"spec.service", "got boolean true (YAML reads unquoted y, yes, on, off as booleans"},
		{"mapping for list", doc(KindService, "s", "ports: {name: a}"),
			"spec.ports", "expected a list, got a mapping"},
		{"list for mapping", doc(KindRoute, "r", "service: a\nrules:\n- backends: [{}]\n  retries: [1]"),
			"spec.rules[0].retries", "expected a mapping, got a list"},
		{"scalar spec", doc(KindService, "s", "") + "spec: 5\n",
			"spec", "expected a mapping, got number 5"},
		{"dotted label key", "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: s, labels: {app.kubernetes.io/name: [x]}}\nspec: {ports: [{name: a, port: 1, protocol: tcp}]}\n",
			`metadata.labels["app.kubernetes.io/name"]`, "expected a string, got a list"},
	})
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	runDecodeErrors(t, []decodeCase{
		{"no apiVersion", "kind: Service\nmetadata: {name: s}\nspec: {}\n", "apiVersion", "required; expected embassy.dev/v1alpha1"},
		{"wrong apiVersion", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "apiVersion", `unknown apiVersion "v1"; expected embassy.dev/v1alpha1`},
		{"no kind", "apiVersion: embassy.dev/v1alpha1\nmetadata: {name: s}\n", "kind", "required; expected one of Mesh, Service, Workload, Route, TrafficPolicy, AuthorizationPolicy"},
		{"unknown kind", "apiVersion: embassy.dev/v1alpha1\nkind: Gateway\nmetadata: {name: s}\n", "kind", `unknown kind "Gateway"; expected one of Mesh, Service, Workload, Route, TrafficPolicy, AuthorizationPolicy`},
		{"kind case", "apiVersion: embassy.dev/v1alpha1\nkind: service\nmetadata: {name: s}\n", "kind", "did you mean Service?"},
		{"no metadata", "apiVersion: embassy.dev/v1alpha1\nkind: Service\n", "metadata", "required"},
		{"no name", "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {namespace: a}\nspec: {ports: [{name: a, port: 1, protocol: tcp}]}\n", "metadata.name", "required"},
		{"bad name beside other errors", "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: My_Svc}\nspec: {portz: []}\n", "metadata.name", "DNS-1123"},
		{"not a mapping", "- a\n- b\n", "", "expected a mapping with apiVersion, kind, metadata and spec, got a list"},
		{"missing spec", "apiVersion: embassy.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\n", "spec.service", "required"},
	})
}

func TestDecodeMalformedYAML(t *testing.T) {
	data := doc(KindService, "s", validService) + "---\napiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata:\n  name: [unclosed\n"
	_, err := Decode("broken.yaml", []byte(data))
	errs := asErrors(t, err)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
	}
	got := errs[0].Error()
	// The parser's line is counted from the start of the file, not of the
	// document: the unclosed list is on line 12.
	want := `broken.yaml: document 1 at line 9: invalid YAML: line 12: did not find expected ',' or ']'`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestDecodeDuplicateKeys(t *testing.T) {
	_, err := Decode("f.yaml", join(doc(KindService, "a", validService), doc(KindService, "a", validService)))
	hasError(t, asErrors(t, err), "metadata.name", "duplicate Service/default/a; it is already defined in document 0")

	_, err = Decode("f.yaml", []byte(doc(KindService, "a", validService+"ports: []")))
	hasError(t, asErrors(t, err), "", "invalid YAML")
}

func TestDecodeEmpty(t *testing.T) {
	rs, err := Decode("empty.yaml", []byte("---\n# nothing here\n---\n"))
	if err != nil || len(rs) != 0 {
		t.Errorf("Decode of only empty documents = %d resources, %v; want none and no error", len(rs), err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	cases := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "m.yaml", Index: 2, Kind: KindRoute, Namespace: "default", Name: "reviews", Path: "spec.port", Msg: "bad"},
			"m.yaml: document 2 (Route default/reviews): spec.port: bad"},
		{FieldError{File: "m.yaml", Index: 2, Line: 14, Kind: KindMesh, Name: "mesh", Msg: "bad"},
			"m.yaml: document 2 at line 14 (Mesh mesh): bad"},
		{FieldError{File: "m.yaml", Index: 0, Msg: "bad"}, "m.yaml: document 0: bad"},
		{FieldError{Index: -1, Kind: KindService, Namespace: "ns", Name: "a", Path: "spec", Msg: "bad"}, "Service ns/a: spec: bad"},
		{FieldError{File: "dir", Index: -1, Msg: "cannot read"}, "dir: cannot read"},
	}
	for _, tc := range cases {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
