package envoyrules

import (
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
)

// httpTerminalRule: an HTTP connection manager's filters end with the
// router and nothing follows it.
var httpTerminalRule = Rule{
	ID:         "hcm.terminal-filter",
	Source:     "source/common/config/utility.h",
	EnvoyError: "Error: terminal filter named {} of type {} must be the last filter in a http filter chain. / Error: non-terminal filter named {} of type {} is the last filter in a http filter chain.",
	message:    httpTerminal,
}

// httpTerminals are the terminal HTTP filters Embassy emits, by the type
// of their typed_config.
var httpTerminals = map[string]string{
	"envoy.extensions.filters.http.router.v3.Router": "envoy.filters.http.router",
}

func httpTerminal(m proto.Message) []finding {
	h, ok := m.(*hcm.HttpConnectionManager)
	if !ok {
		return nil
	}
	filters := make([]namedFilter, len(h.GetHttpFilters()))
	for i, f := range h.GetHttpFilters() {
		filters[i] = namedFilter{f.GetName(), f.GetTypedConfig().GetTypeUrl()}
	}
	return terminalOrder(filters, httpTerminals, "http", ".http_filters")
}
