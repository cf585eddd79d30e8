package envoyrules

import (
	"fmt"
	"net"
	"strconv"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/xds/translate"
)

// listenerAddressRule: a node cannot bind two listeners to one address;
// the second is refused.
var listenerAddressRule = Rule{
	ID:         listenerAddressID,
	Source:     "source/common/listener_manager/listener_manager_impl.cc",
	EnvoyError: "error adding listener: '{}' has duplicate address '{}' as existing listener",
	set:        duplicateAddresses,
}

const listenerAddressID = "listener.duplicate-address"

func duplicateAddresses(r *translate.Resources) []Violation {
	var out []Violation
	bound := map[string]string{}
	for _, l := range r.Listeners {
		addr, ok := boundAddress(l)
		if !ok {
			continue
		}
		if _, taken := bound[addr]; taken {
			out = append(out, Violation{Type: "Listener", Name: l.GetName(), Path: ".address", Rule: listenerAddressID,
				Envoy: fmt.Sprintf("error adding listener: '%s' has duplicate address '%s' as existing listener", l.GetName(), addr)})
			continue
		}
		bound[addr] = l.GetName()
	}
	return out
}

// boundAddress is the ip:port a listener binds, in Envoy's spelling; an
// api_listener (proxyless gRPC) or a listener with bind_to_port false
// binds nothing.
func boundAddress(l *listener.Listener) (string, bool) {
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil || l.GetApiListener() != nil {
		return "", false
	}
	if b := l.GetBindToPort(); b != nil && !b.GetValue() {
		return "", false
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)), true
}

// filterChainMatchRule: Envoy keeps a listener's filter_chain_match values
// in a set keyed by proto equality and refuses a second equal one, since it
// could never be chosen.
var filterChainMatchRule = Rule{
	ID:         "listener.filter-chain-match-unique",
	Source:     "source/common/listener_manager/filter_chain_manager_impl.cc",
	EnvoyError: "error adding listener '{}': multiple filter chains with the same matching rules are defined",
	message:    sameFilterChainMatch,
}

func sameFilterChainMatch(m proto.Message) []finding {
	l, ok := m.(*listener.Listener)
	if !ok {
		return nil
	}
	addr, _ := boundAddress(l)
	var out []finding
	chains := l.GetFilterChains()
	for i, fc := range chains {
		for j := range i {
			if proto.Equal(chainMatch(fc), chainMatch(chains[j])) {
				out = append(out, finding{fmt.Sprintf(".filter_chains[%d].filter_chain_match", i),
					fmt.Sprintf("error adding listener '%s': multiple filter chains with the same matching rules are defined", addr)})
				break
			}
		}
	}
	return out
}

// chainMatch is a chain's match with unset read as empty, as Envoy reads
// it; proto.Equal tells a nil message from an empty one.
func chainMatch(fc *listener.FilterChain) *listener.FilterChainMatch {
	if m := fc.GetFilterChainMatch(); m != nil {
		return m
	}
	return &listener.FilterChainMatch{}
}

// networkTerminalRule: the last network filter of a chain must be a
// terminal one (tcp_proxy, http_connection_manager) and no terminal filter
// may come before another.
var networkTerminalRule = Rule{
	ID:         "listener.terminal-filter",
	Source:     "source/common/config/utility.h",
	EnvoyError: "Error: terminal filter named {} of type {} must be the last filter in a network filter chain. / Error: non-terminal filter named {} of type {} is the last filter in a network filter chain.",
	message:    networkTerminal,
}

// networkTerminals are the terminal network filters Embassy emits, by the
// type of their typed_config.
var networkTerminals = map[string]string{
	"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy":                            "envoy.filters.network.tcp_proxy",
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": "envoy.filters.network.http_connection_manager",
}

func networkTerminal(m proto.Message) []finding {
	fc, ok := m.(*listener.FilterChain)
	if !ok {
		return nil
	}
	filters := make([]namedFilter, len(fc.GetFilters()))
	for i, f := range fc.GetFilters() {
		filters[i] = namedFilter{f.GetName(), f.GetTypedConfig().GetTypeUrl()}
	}
	return terminalOrder(filters, networkTerminals, "network", ".filters")
}
