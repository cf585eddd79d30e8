package sandbox

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzHandle feeds the worker's job reader arbitrary bytes: it must never
// panic, and must either answer with one JSON response (exit 0) or say on
// stderr why it could not (exit 2).
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"compile","job":{"name":"d/p","spec":{"modules":[{"name":"a.rego","rego":"package envoy.authz\nallow if input.method == \"GET\"\n"}]}}}`,
		`{"kind":"compile","job":{"name":"d/p","spec":{"modules":[{"name":"a.rego","rego":"package envoy.authz\nallow if http.send({})\n"}]}}}`,
		`{"kind":"compile","job":{"name":"d/p"}}`,
		`{"kind":"decide","job":{"bundles":[],"input":{}}}`,
		`{"kind":"decide","job":{"bundles":[{"name":"x","revision":"0"}],"input":null}}`,
		`{"kind":"decide","job":{"bundles":null,"input":"not an object"}}`,
		`{"kind":"nope","job":{}}`,
		`{"kind":"compile","job":[]}`,
		`{`, ``, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var out, errOut bytes.Buffer
		switch code := handle(bytes.NewReader(raw), &out, &errOut); code {
		case 0:
			var resp response
			if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
				t.Fatalf("exit 0 with an answer that is not JSON: %v: %q", err, out.String())
			}
		case 2:
			if errOut.Len() == 0 || out.Len() != 0 {
				t.Fatalf("exit 2 with stderr %q and stdout %q", errOut.String(), out.String())
			}
		default:
			t.Fatalf("exit %d", code)
		}
	})
}
