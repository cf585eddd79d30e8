package envoyrules

import (
	"fmt"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/xds/translate"
)

// How Envoy applies Scoped RDS (source/common/router/scoped_rds.cc), for
// the rules below and the xDS cache:
//
//   - It subscribes to ScopedRouteConfiguration as a wildcard and reads a
//     State of the World response as the complete set: every scope it
//     holds that the response lacks is removed (onConfigUpdate lists all
//     held scopes as removed, then re-adds the response's).
//   - It refuses the whole update when two scopes share a name or a key,
//     or a scope names no route_configuration_name.
//   - It then subscribes over RDS to each scope's RouteConfiguration.
//   - A request whose key matches no scope, or no key at all, gets a
//     NullConfigImpl route table: the router answers 404, as for an
//     unknown Host (http/conn_manager_impl.cc snapScopedRouteConfig).

// scopeRouteNameRule: a scope fetched over SRDS names its
// RouteConfiguration; an inline one is for inline scoped routes only.
var scopeRouteNameRule = Rule{
	ID:         "srds.route-configuration-name",
	Source:     "source/common/router/scoped_rds.cc",
	EnvoyError: "route_configuration_name is empty.",
	message: func(m proto.Message) []finding {
		s, ok := m.(*route.ScopedRouteConfiguration)
		if ok && s.GetRouteConfigurationName() == "" {
			return []finding{{".route_configuration_name", "route_configuration_name is empty."}}
		}
		return nil
	},
}

// scopeKeyConflictRule: no two scopes of an update have the same key.
var scopeKeyConflictRule = Rule{
	ID:         scopeKeyConflictID,
	Source:     "source/common/router/scoped_rds.cc",
	EnvoyError: "scope key conflict found, first scope is '{}', second scope is '{}'",
	set:        scopeKeyConflicts,
}

const scopeKeyConflictID = "srds.key-conflict"

func scopeKeyConflicts(r *translate.Resources) []Violation {
	var out []Violation
	first := make(map[string]string, len(r.ScopedRoutes))
	for _, s := range r.ScopedRoutes {
		key := scopeKey(s)
		if prev, taken := first[key]; taken {
			out = append(out, Violation{Type: "ScopedRouteConfiguration", Name: s.GetName(), Path: ".key", Rule: scopeKeyConflictID,
				Envoy: fmt.Sprintf("scope key conflict found, first scope is '%s', second scope is '%s'", prev, s.GetName())})
			continue
		}
		first[key] = s.GetName()
	}
	return out
}

// scopeKey spells a scope's key fragments as Envoy hashes them: in order,
// each its own value.
func scopeKey(s *route.ScopedRouteConfiguration) string {
	fs := s.GetKey().GetFragments()
	if len(fs) == 1 {
		return fs[0].GetStringKey()
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.GetStringKey()
	}
	return strings.Join(parts, "\x00")
}

// scopeExtractorRule: a header value extractor says which element it
// takes, and an index past 0 needs a separator to split on.
var scopeExtractorRule = Rule{
	ID:         "srds.header-value-extractor",
	Source:     "source/common/router/scoped_config_impl.cc",
	EnvoyError: "Index > 0 for empty string element separator. / HeaderValueExtractor extract_type not set.",
	message: func(m proto.Message) []finding {
		x, ok := m.(*hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor)
		switch {
		case !ok:
			return nil
		case x.GetExtractType() == nil:
			return []finding{{"", "HeaderValueExtractor extract_type not set."}}
		case x.GetElement() == nil && x.GetIndex() != 0 && x.GetElementSeparator() == "":
			return []finding{{".index", "Index > 0 for empty string element separator."}}
		}
		return nil
	},
}

// scopeFragmentsRule: a scope is selected only by a key with as many
// fragments as the HCM's scope_key_builder makes. Envoy loads a scope
// with more or fewer, and no request ever reaches it.
var scopeFragmentsRule = Rule{
	ID:         scopeFragmentsID,
	Source:     "source/common/router/scoped_config_impl.cc",
	EnvoyError: "scope {} has {} key fragments but the scope_key_builder of Listener {} makes {}: no request can select it",
	Embassy:    true,
	set:        scopeFragmentCounts,
}

const scopeFragmentsID = "srds.key-fragments"

func scopeFragmentCounts(r *translate.Resources) []Violation {
	if len(r.ScopedRoutes) == 0 {
		return nil
	}
	var out []Violation
	for _, l := range r.Listeners {
		for _, n := range scopedBuilders(l) {
			for _, s := range r.ScopedRoutes {
				if got := len(s.GetKey().GetFragments()); got != n {
					out = append(out, Violation{Type: "ScopedRouteConfiguration", Name: s.GetName(), Path: ".key.fragments", Rule: scopeFragmentsID,
						Envoy: fmt.Sprintf("scope %s has %d key fragments but the scope_key_builder of Listener %s makes %d: no request can select it", s.GetName(), got, l.GetName(), n)})
				}
			}
		}
	}
	return out
}

// scopedBuilders are the fragment counts of the key builders of every HCM
// of a listener that takes its scopes over SRDS (which are the scopes of
// the set: Envoy subscribes to them as a wildcard). Only HCMs are
// unpacked: this runs for every sidecar shape.
func scopedBuilders(l *listener.Listener) []int {
	var out []int
	look := func(a *anypb.Any) {
		if a.GetTypeUrl() != hcmTypeURL {
			return
		}
		h := &hcm.HttpConnectionManager{}
		if proto.Unmarshal(a.GetValue(), h) == nil && h.GetScopedRoutes().GetScopedRds() != nil {
			out = append(out, len(h.GetScopedRoutes().GetScopeKeyBuilder().GetFragments()))
		}
	}
	look(l.GetApiListener().GetApiListener())
	for _, fc := range append([]*listener.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...) {
		for _, f := range fc.GetFilters() {
			look(f.GetTypedConfig())
		}
	}
	return out
}

// hcmTypeURL is the type of an HttpConnectionManager packed in an Any.
var hcmTypeURL = "type.googleapis.com/" + string((&hcm.HttpConnectionManager{}).ProtoReflect().Descriptor().FullName())
