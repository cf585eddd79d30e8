package cli

import (
	"testing"
	"time"

	"embassy.dev/embassy/pkg/status"
)

func TestSyncState(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	cases := []struct {
		name string
		ts   status.TypeStatus
		want string
	}{
		{"nothing sent", status.TypeStatus{}, NotSent},
		{"acked what was sent", status.TypeStatus{VersionSent: "3", VersionAcked: "3", SentAt: ago(time.Hour), AckedAt: ago(time.Hour)}, Synced},
		{"nack after the last ack", status.TypeStatus{VersionSent: "4", VersionAcked: "3", SentAt: ago(time.Second), AckedAt: ago(time.Minute),
			LastNack: &status.Nack{Version: "4", Time: ago(time.Second)}}, Nacked},
		{"old nack, since acked", status.TypeStatus{VersionSent: "5", VersionAcked: "5", SentAt: ago(time.Second), AckedAt: ago(time.Second),
			LastNack: &status.Nack{Version: "4", Time: ago(time.Minute)}}, Synced},
		{"unacked for longer than StaleAfter", status.TypeStatus{VersionSent: "2", VersionAcked: "1", SentAt: ago(StaleAfter + time.Second), AckedAt: ago(time.Hour)}, Stale},
		{"just sent", status.TypeStatus{VersionSent: "2", VersionAcked: "1", SentAt: ago(time.Second), AckedAt: ago(time.Hour)}, Pending},
	}
	for _, tc := range cases {
		if got := SyncState(tc.ts, now); got != tc.want {
			t.Errorf("%s: SyncState = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestJudgeProxiesMapsTypeURLsToColumns(t *testing.T) {
	now := time.Now()
	p := status.Proxy{ID: "a.default", Types: map[string]status.TypeStatus{
		"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": {VersionSent: "1", VersionAcked: "1"},
		"type.googleapis.com/envoy.config.route.v3.RouteConfiguration":       {VersionSent: "1", SentAt: now.Add(-time.Minute)},
	}}
	got := JudgeProxies([]status.Proxy{p}, now)[0].Sync
	want := map[string]string{"CDS": NotSent, "LDS": NotSent, "EDS": Synced, "RDS": Stale}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s (all: %v)", k, got[k], v, got)
		}
	}
}

// TestJudgeProxiesMarksTypesAFlavourNeverUses checks that a type the
// proxy does not ask for reads NotUsed, not NOT_SENT: an agent's routing
// columns, a sidecar's AUTHZ, a proxyless server's clusters. A sidecar's
// routing type it has not asked for, and a type asked for and not sent,
// still read NOT_SENT.
func TestJudgeProxiesMarksTypesAFlavourNeverUses(t *testing.T) {
	now := time.Now()
	authz := "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
	lds := "type.googleapis.com/envoy.config.listener.v3.Listener"
	cds := "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	ps := []status.Proxy{
		{ID: "a.default", Flavour: "agent", Types: map[string]status.TypeStatus{authz: {VersionSent: "1", VersionAcked: "1"}}},
		{ID: "a.default", Flavour: "proxyless", Types: map[string]status.TypeStatus{lds: {VersionSent: "1", VersionAcked: "1"}, cds: {}}},
		{ID: "b.default", Flavour: "envoy", Types: map[string]status.TypeStatus{lds: {VersionSent: "1", VersionAcked: "1"}}},
		{ID: "c.default"},
	}
	want := []map[string]string{
		{"CDS": NotUsed, "LDS": NotUsed, "EDS": NotUsed, "RDS": NotUsed, "AUTHZ": Synced},
		{"CDS": NotSent, "LDS": Synced, "EDS": NotUsed, "RDS": NotUsed, "AUTHZ": NotUsed},
		{"CDS": NotSent, "LDS": Synced, "EDS": NotSent, "RDS": NotSent, "AUTHZ": NotUsed},
		{"CDS": NotSent, "LDS": NotSent, "EDS": NotSent, "RDS": NotSent, "AUTHZ": NotSent},
	}
	for i, p := range JudgeProxies(ps, now) {
		for k, v := range want[i] {
			if p.Sync[k] != v {
				t.Errorf("%s (%s) %s = %s, want %s", p.ID, p.Flavour, k, p.Sync[k], v)
			}
		}
	}
}
