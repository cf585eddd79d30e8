package api

import (
	"strings"
	"time"

	"embassy.dev/embassy/pkg/status"
)

func cutNode(id string) (string, string, bool) { return strings.Cut(id, ".") }

// statusProxy is a connected proxy whose one type is acked.
func statusProxy(id, workload, ns string, at time.Time) status.Proxy {
	return status.Proxy{ID: id, Flavour: "envoy", XDS: "sotw", ConnectedSince: at, Workload: workload, Namespace: ns,
		Types: map[string]status.TypeStatus{
			"type.googleapis.com/envoy.config.cluster.v3.Cluster": {VersionSent: "1", VersionAcked: "1", SentAt: at, AckedAt: at},
		}}
}
