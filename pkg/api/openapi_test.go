package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// openAPIDoc is the part of the OpenAPI document the test checks.
type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	Summary   string                `json:"summary"`
	Security  []map[string][]string `json:"security"`
	Responses map[string]any        `json:"responses"`
}

func TestOpenAPIDocumentsEveryRegisteredRouteAndNoOther(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	registered := map[string]Route{}
	for _, rt := range Routes() {
		key := rt.Method + " " + rt.Path
		registered[key] = rt
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s is registered but not in openapi.json", key)
			continue
		}
		if op.Summary == "" || len(op.Responses) == 0 {
			t.Errorf("%s: no summary or responses", key)
		}
		schemes := map[string]bool{}
		for _, req := range op.Security {
			for name := range req {
				schemes[name] = true
			}
		}
		switch rt.Access {
		case public:
			if len(op.Security) != 0 {
				t.Errorf("%s is public but documented with security %v", key, op.Security)
			}
		case read:
			if !schemes["bearer"] || !schemes["readToken"] {
				t.Errorf("%s takes read tokens but is documented with %v", key, op.Security)
			}
		case admin:
			if !schemes["bearer"] || schemes["readToken"] {
				t.Errorf("%s is for the admin only but is documented with %v", key, op.Security)
			}
		}
	}
	var extra []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if _, ok := registered[strings.ToUpper(method)+" "+path]; !ok {
				extra = append(extra, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that are not registered: %v", extra)
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.do(http.MethodGet, "/v1/openapi.json", testToken, nil)
	if code != http.StatusOK || string(body) != string(OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d", code)
	}
}
