package api

import (
	"encoding/json"
	"net/http"
	"sort"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/pkg/status"
)

// ConfigDiff is how what a proxy holds now differs from what it last
// acked, for one xDS type: resource names added, removed and changed.
type ConfigDiff struct {
	Version      string   `json:"version"`
	AckedVersion string   `json:"ackedVersion,omitempty"`
	Added        []string `json:"added"`
	Removed      []string `json:"removed"`
	Changed      []string `json:"changed"`
}

// proxyConfig serves what a proxy was sent, as Envoy's config dump
// ({"configs": [...]} of envoy.admin.v3 dumps), with "diff" per type URL
// against its last acked state.
func (s *server) proxyConfig(w http.ResponseWriter, r *http.Request) {
	if s.o.Config == nil {
		writeError(w, http.StatusServiceUnavailable, "this API has no xDS server to ask: /v1/proxies/{id}/config is unavailable")
		return
	}
	id := r.PathValue("id")
	types, ok := s.o.Config.ProxyConfig(id)
	if !ok {
		writeError(w, http.StatusNotFound, notConnectedMsg(id))
		return
	}
	dump := &adminv3.ConfigDump{}
	diff := map[string]ConfigDiff{}
	for _, st := range types {
		if m := configDumpOf(st); m != nil {
			a, err := anypb.New(m)
			if err != nil {
				s.internal(w, "config dump of "+st.TypeURL, err)
				return
			}
			dump.Configs = append(dump.Configs, a)
		}
		diff[st.TypeURL] = diffOf(st)
	}
	b, err := protojson.Marshal(dump)
	if err != nil {
		s.internal(w, "encode the config dump", err)
		return
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		s.internal(w, "encode the config dump", err)
		return
	}
	if out["configs"] == nil {
		out["configs"] = []any{}
	}
	out["proxy"] = id
	out["diff"] = diff
	writeJSON(w, http.StatusOK, out)
}

// configDumpOf builds the admin dump message of one type, nil for a type
// Envoy's config dump has no section for.
func configDumpOf(st status.ServedType) proto.Message {
	switch st.TypeURL {
	case resourcev3.ListenerType:
		d := &adminv3.ListenersConfigDump{VersionInfo: st.Version}
		for _, r := range st.Resources {
			d.DynamicListeners = append(d.DynamicListeners, &adminv3.ListenersConfigDump_DynamicListener{
				Name:        r.Name,
				ActiveState: &adminv3.ListenersConfigDump_DynamicListenerState{VersionInfo: r.Version, Listener: r.Resource},
			})
		}
		return d
	case resourcev3.ClusterType:
		d := &adminv3.ClustersConfigDump{VersionInfo: st.Version}
		for _, r := range st.Resources {
			d.DynamicActiveClusters = append(d.DynamicActiveClusters, &adminv3.ClustersConfigDump_DynamicCluster{VersionInfo: r.Version, Cluster: r.Resource})
		}
		return d
	case resourcev3.RouteType:
		d := &adminv3.RoutesConfigDump{}
		for _, r := range st.Resources {
			d.DynamicRouteConfigs = append(d.DynamicRouteConfigs, &adminv3.RoutesConfigDump_DynamicRouteConfig{VersionInfo: r.Version, RouteConfig: r.Resource})
		}
		return d
	case resourcev3.ScopedRouteType:
		// One subscription: a sidecar's outbound scopes, taken as a wildcard.
		sc := &adminv3.ScopedRoutesConfigDump_DynamicScopedRouteConfigs{VersionInfo: st.Version}
		for _, r := range st.Resources {
			if r.Resource != nil {
				sc.ScopedRouteConfigs = append(sc.ScopedRouteConfigs, r.Resource)
			}
		}
		return &adminv3.ScopedRoutesConfigDump{DynamicScopedRouteConfigs: []*adminv3.ScopedRoutesConfigDump_DynamicScopedRouteConfigs{sc}}
	case resourcev3.EndpointType:
		d := &adminv3.EndpointsConfigDump{}
		for _, r := range st.Resources {
			d.DynamicEndpointConfigs = append(d.DynamicEndpointConfigs, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{VersionInfo: r.Version, EndpointConfig: r.Resource})
		}
		return d
	case resourcev3.SecretType:
		d := &adminv3.SecretsConfigDump{}
		for _, r := range st.Resources {
			d.DynamicActiveSecrets = append(d.DynamicActiveSecrets, &adminv3.SecretsConfigDump_DynamicSecret{Name: r.Name, VersionInfo: r.Version, Secret: r.Resource})
		}
		return d
	}
	return nil
}

// diffOf compares the sent resources with the acked versions.
func diffOf(st status.ServedType) ConfigDiff {
	d := ConfigDiff{Version: st.Version, AckedVersion: st.AckedVersion, Added: []string{}, Removed: []string{}, Changed: []string{}}
	now := make(map[string]bool, len(st.Resources))
	for _, r := range st.Resources {
		now[r.Name] = true
		v, ok := st.Acked[r.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, r.Name)
		case v != r.Version:
			d.Changed = append(d.Changed, r.Name)
		}
	}
	for n := range st.Acked {
		if !now[n] {
			d.Removed = append(d.Removed, n)
		}
	}
	sort.Strings(d.Removed)
	return d
}
