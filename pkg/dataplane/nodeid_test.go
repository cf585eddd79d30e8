package dataplane

import (
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/resource"
)

// TestParseNodeID pins the one reading of a node id every side shares. The
// ids marked "was lenient" are those the translator and the xDS cache once
// split at the first dot; they name no workload, since no resource name
// can hold a dot, capitals or more than 63 characters.
func TestParseNodeID(t *testing.T) {
	cases := []struct {
		id, workload, namespace string
		msg                     string
	}{
		{id: "web-1.default", workload: "web-1", namespace: "default"},
		{id: "web-1.team.a", msg: "two DNS labels joined by one dot"},     // was lenient
		{id: "Web-1.default", msg: `workload "Web-1" is not a DNS label`}, // was lenient
		{id: "web_1.default", msg: `workload "web_1" is not a DNS label`}, // was lenient
		{id: "web-1.-ns", msg: `namespace "-ns" is not a DNS label`},      // was lenient
		{id: strings.Repeat("a", 64) + ".ns", msg: "longer than 63"},      // was lenient
		{id: "web-1", msg: "two DNS labels joined by one dot"},
		{id: ".default", msg: "workload is empty"},
		{id: "web-1.", msg: "namespace is empty"},
		{id: "", msg: "two DNS labels joined by one dot"},
	}
	for _, tc := range cases {
		w, ns, err := ParseNodeID(tc.id)
		if tc.msg == "" {
			if err != nil || w != tc.workload || ns != tc.namespace {
				t.Errorf("ParseNodeID(%q) = %q, %q, %v; want %q, %q", tc.id, w, ns, err, tc.workload, tc.namespace)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.id) {
			t.Errorf("ParseNodeID(%q) = %q, %q, %v; want an error naming the id and saying %q", tc.id, w, ns, err, tc.msg)
		}
	}
}

// FuzzParseNodeID checks that an id is accepted exactly when it is the
// NodeID of two valid resource names, and that it then reads back as
// them: the parser, the format and the model's naming rule agree.
func FuzzParseNodeID(f *testing.F) {
	for _, s := range []string{"web-1.default", "web-1.team.a", "a.b", ".", "", "A.b", "a..b", "a.b.", "x-.y", "1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		w, ns, err := ParseNodeID(id)
		if err != nil {
			if w != "" || ns != "" {
				t.Fatalf("ParseNodeID(%q) failed (%v) but returned %q, %q", id, err, w, ns)
			}
			return
		}
		if resource.CheckName(w) != nil || resource.CheckName(ns) != nil {
			t.Fatalf("ParseNodeID(%q) accepted %q, %q, which cannot name resources", id, w, ns)
		}
		if NodeID(w, ns) != id {
			t.Fatalf("NodeID(%q, %q) = %q, not the parsed %q", w, ns, NodeID(w, ns), id)
		}
	})
}
