package translate

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"maps"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// headerEdits applies a rule's request and response header edits to its
// route: add appends (APPEND_IF_EXISTS_OR_ADD), set replaces
// (OVERWRITE_IF_EXISTS_OR_ADD), remove deletes. gRPC does not edit
// headers, so proxyless clients get a Diagnostic instead.
func (t *translator) headerEdits(out *route.Route, r *mesh.Route, i int, rule resource.RouteRule) {
	if rule.RequestHeaders == nil && rule.ResponseHeaders == nil {
		return
	}
	if t.flavour == Proxyless {
		t.diag(resource.KindRoute, r.Namespace, r.Name, "rule %s: requestHeaders and responseHeaders are not supported by proxyless gRPC; they apply to Envoy sidecars only", ruleLabel(i, rule))
		return
	}
	if e := rule.RequestHeaders; e != nil {
		out.RequestHeadersToAdd = headerValueOptions(e)
		out.RequestHeadersToRemove = e.Remove
	}
	if e := rule.ResponseHeaders; e != nil {
		out.ResponseHeadersToAdd = headerValueOptions(e)
		out.ResponseHeadersToRemove = e.Remove
	}
}

// headerValueOptions lists the additions and replacements of an edit,
// each sorted by name.
func headerValueOptions(e *resource.HeaderEdits) []*core.HeaderValueOption {
	var out []*core.HeaderValueOption
	out = append(out, headerOptions(e.Add, core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD)...)
	return append(out, headerOptions(e.Set, core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)...)
}

// headerOptions turns a header map into options with one append action.
// Every value is sent literally: see formatterLiteral.
func headerOptions(m map[string]string, action core.HeaderValueOption_HeaderAppendAction) []*core.HeaderValueOption {
	var out []*core.HeaderValueOption
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, &core.HeaderValueOption{Header: &core.HeaderValue{Key: k, Value: formatterLiteral(m[k])}, AppendAction: action})
	}
	return out
}

// formatterLiteral escapes a value for Envoy's substitution formatter,
// which reads every header value Envoy adds (router/header_parser.cc,
// formatter/substitution_formatter.cc). There a lone '%' either starts a
// command, so "%DOWNSTREAM_REMOTE_ADDRESS%" would be expanded, or fails
// the whole route configuration with "Couldn't find valid command at
// position N", so "50%" would be NACKed. Embassy offers no formatter
// commands: operators' text is sent as written, with '%' as "%%".
func formatterLiteral(v string) string {
	return strings.ReplaceAll(v, "%", "%%")
}
