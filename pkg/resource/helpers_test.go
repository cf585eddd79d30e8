package resource

import (
	"errors"
	"strings"
	"testing"
)

// doc renders one document of kind with the given spec body (YAML lines
// without indentation; they are nested under spec).
func doc(kind Kind, name, spec string) string {
	var b strings.Builder
	b.WriteString("apiVersion: embassy.dev/v1alpha1\nkind: " + string(kind) + "\nmetadata:\n  name: " + name + "\n")
	if spec != "" {
		b.WriteString("spec:\n")
		for _, l := range strings.Split(strings.TrimRight(spec, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// join makes a multi-document stream.
func join(docs ...string) []byte { return []byte(strings.Join(docs, "---\n")) }

// mustDecode decodes documents that the test expects to be valid.
func mustDecode(t *testing.T, docs ...string) []*Resource {
	t.Helper()
	rs, err := Decode("test.yaml", join(docs...))
	if err != nil {
		t.Fatalf("Decode: unexpected error:\n%v", err)
	}
	return rs
}

// asErrors asserts err is a non-empty *Errors and returns its entries.
func asErrors(t *testing.T, err error) Errors {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
	var es *Errors
	if !errors.As(err, &es) || es == nil || len(*es) == 0 {
		t.Fatalf("expected a non-empty *Errors, got %T: %v", err, err)
	}
	return *es
}

// hasError asserts errs holds a problem at path whose message contains msg.
func hasError(t *testing.T, errs Errors, path, msg string) {
	t.Helper()
	for _, e := range errs {
		if e.Path == path && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("no error at %q containing %q; got:\n%v", path, msg, errs)
}

// specCase is one document of a kind and the error it must give, or none.
type specCase struct {
	name, spec string
	kind       Kind
	path, msg  string // empty: the document is valid
}

// runSpecCases decodes each case and checks its outcome.
func runSpecCases(t *testing.T, cases []specCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Decode("", []byte(doc(tc.kind, "x", tc.spec)))
			if tc.path == "" && tc.msg == "" {
				if err != nil {
					t.Fatalf("expected a valid document, got:\n%v", err)
				}
				if len(rs) != 1 || Validate(rs[0]) != nil {
					t.Fatalf("decoded %d resources; Validate: %v", len(rs), Validate(rs[0]))
				}
				return
			}
			if rs != nil {
				t.Errorf("expected no resources with an error, got %d", len(rs))
			}
			hasError(t, asErrors(t, err), tc.path, tc.msg)
		})
	}
}

// decodeCase is a file that Decode refuses, with the field path and the
// message its error must name.
type decodeCase struct {
	name, data, path, msg string
}

// runDecodeErrors decodes each case and checks that it is refused as a
// whole, with the error it names.
func runDecodeErrors(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Decode("f.yaml", []byte(tc.data))
			if rs != nil {
				t.Errorf("got %d resources despite the error", len(rs))
			}
			hasError(t, asErrors(t, err), tc.path, tc.msg)
		})
	}
}
