package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/status"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsReadTheirSourcesAtScrapeTime(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	pending := 0
	proxies := []status.Proxy{{ID: "a.default", Flavour: "envoy", XDS: "delta"}}
	m := New(Options{
		Proxies:        func() []status.Proxy { return proxies },
		PendingUpdates: func() int { return pending },
		Roots: func() []identity.RootInfo {
			return []identity.RootInfo{{Fingerprint: "ab12", NotAfter: now.Add(time.Hour), Active: true}}
		},
		Now: func() time.Time { return now },
	})
	pending = 3
	m.ResponseSent("type.googleapis.com/envoy.config.cluster.v3.Cluster")
	m.Answered("type.googleapis.com/envoy.config.cluster.v3.Cluster", 10*time.Millisecond, true)
	m.Pushed(time.Millisecond)
	m.AuthzDecisions.WithLabelValues("default/allow-web", "allow").Inc()
	out := scrape(t, m)
	for _, want := range []string{
		`embassy_xds_pushes_total{type="Cluster"} 1`,
		`embassy_xds_nacks_total{type="Cluster"} 1`,
		`embassy_xds_nacks_total{type="Listener"} 0`,
		`embassy_xds_push_duration_seconds_count{type="Cluster"} 1`,
		`embassy_xds_snapshot_push_duration_seconds_count 1`,
		`embassy_xds_debounce_pending_updates 3`,
		`embassy_xds_connected_proxies{flavour="envoy",xds="delta"} 1`,
		`embassy_xds_connected_proxies{flavour="proxyless",xds="sotw"} 0`,
		`embassy_ca_root_expiry_seconds{active="true",fingerprint="ab12"} 3600`,
		`embassy_authz_decisions_total{decision="allow",policy="default/allow-web"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.ResponseSent("x")
	m.Answered("x", time.Second, true)
	m.Pushed(time.Second)
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	a.Pushed(time.Millisecond)
	if !strings.Contains(scrape(t, b), "embassy_xds_snapshot_push_duration_seconds_count 0\n") {
		t.Fatal("one control plane's metrics leaked into another's")
	}
}
