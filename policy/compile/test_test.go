package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const rolesPolicy = `package envoy.authz

default allow := false

allow if input.method in data.roles[input.role]
`

const rolesTests = `package envoy.authz_test

import data.envoy.authz

test_admin_may_delete if authz.allow with input as {"role": "admin", "method": "DELETE"}

test_reader_may_get if authz.allow with input as {"role": "reader", "method": "GET"}

test_reader_may_not_delete if not authz.allow with input as {"role": "reader", "method": "DELETE"}
`

func TestTestPasses(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"authz.rego":      rolesPolicy,
		"authz_test.rego": rolesTests,
		"roles/data.json": `{"admin": ["GET", "DELETE"], "reader": ["GET"]}`,
	})
	var out bytes.Buffer
	passed, failed, err := Test(dir, &out, true)
	if err != nil {
		t.Fatal(err)
	}
	if passed != 3 || failed != 0 {
		t.Errorf("passed %d failed %d\n%s", passed, failed, out.String())
	}
	for _, want := range []string{"data.envoy.authz_test.test_admin_may_delete: PASS (", "PASS: 3/3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTestFails(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"authz.rego":      rolesPolicy,
		"authz_test.rego": rolesTests + "\ntest_reader_may_delete if authz.allow with input as {\"role\": \"reader\", \"method\": \"DELETE\"}\n",
		"roles/data.json": `{"admin": ["GET", "DELETE"], "reader": ["GET"]}`,
	})
	var out bytes.Buffer
	passed, failed, err := Test(dir, &out, false)
	if err != nil {
		t.Fatal(err)
	}
	if passed != 3 || failed != 1 {
		t.Errorf("passed %d failed %d\n%s", passed, failed, out.String())
	}
	for _, want := range []string{"test_reader_may_delete: FAIL (", "FAIL: 1/4"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "test_admin_may_delete: PASS") {
		t.Errorf("non-verbose output lists passing tests:\n%s", out.String())
	}
}

func TestTestReportsBadRego(t *testing.T) {
	dir := writeFiles(t, map[string]string{"authz.rego": "package envoy.authz\n\nallow if {\n"})
	_, _, err := Test(dir, &bytes.Buffer{}, false)
	var errs Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "authz.rego:") || !strings.Contains(err.Error(), "rego_parse_error") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"authz.rego":           rolesPolicy,
		"authz_test.rego":      rolesTests,
		"lib/helpers.rego":     "package lib\n\nx := 1\n",
		"data.json":            `{"limits": {"rps": 10}}`,
		"roles/data.json":      `{"admin": ["GET"]}`,
		"limits/b/data.json":   `{"burst": 5}`,
		".hidden/other.rego":   "package hidden\n",
		"README.md":            "not policy",
		"roles/notes.txt":      "ignored",
		"lib/more/data.json":   `[1, 2]`,
		"lib/more/mods.rego":   "package lib.more\n\ny := 2\n",
		"lib/more/x_test.rego": "package lib.more_test\n",
	})
	mods, data, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "authz.rego,lib/helpers.rego,lib/more/mods.rego" {
		t.Errorf("modules %s", got)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	want := `{"lib":{"more":[1,2]},"limits":{"b":{"burst":5},"rps":10},"roles":{"admin":["GET"]}}`
	if got, _ := json.Marshal(doc); string(got) != want {
		t.Errorf("data %s, want %s", got, want)
	}
}

func TestLoadDirRefusesClashingData(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"authz.rego":      rolesPolicy,
		"data.json":       `{"roles": {"admin": ["GET"]}}`,
		"roles/data.json": `{"admin": ["POST"]}`,
	})
	if _, _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "data.roles.admin is set twice") {
		t.Fatalf("got %v", err)
	}
}
