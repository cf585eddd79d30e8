package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/metrics"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/xds/cache"
	"embassy.dev/embassy/xds/cache/cachetest"
	xdsserver "embassy.dev/embassy/xds/server"
)

const (
	adminToken = "status-admin-token"
	readToken  = "status-read-token"
)

// live is a real xDS server on loopback with the status API over it.
type live struct {
	t    *testing.T
	xds  *xdsserver.Server
	fake *cachetest.Translator
	st   *store.Memory
	bus  *events.Bus
	api  *httptest.Server
	ads  discovery.AggregatedDiscoveryServiceClient
}

func startLive(t *testing.T, staleAfter time.Duration) *live {
	t.Helper()
	fake := cachetest.New()
	l := startLiveWith(t, staleAfter, fake)
	l.fake = fake
	return l
}

// startLiveWith is startLive over the translator tr.
func startLiveWith(t *testing.T, staleAfter time.Duration, tr cache.Translator) *live {
	t.Helper()
	bus := events.New(100)
	var srv *xdsserver.Server
	m := metrics.New(metrics.Options{
		Proxies:        func() []status.Proxy { return srv.Proxies() },
		PendingUpdates: func() int { return srv.PendingUpdates() },
	})
	srv = xdsserver.New(xdsserver.Config{Translator: tr, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Events: bus, Metrics: m})
	t.Cleanup(srv.Close) // after the gRPC server has stopped
	conn := grpctest.Serve(t, srv.Register)
	st := store.NewMemory()
	h := api.NewHandler(api.Options{
		Store: st, Proxies: srv, Config: srv, AdminToken: adminToken, ReadTokens: []string{readToken},
		StaleAfter: staleAfter, Events: bus, Metrics: m.Handler(),
		LastPush: func() (api.PushInfo, bool) {
			p, ok := srv.LastPush()
			return api.PushInfo{Revision: p.Revision, Time: p.At, Duration: p.Took, Proxies: p.Nodes, Refused: p.Refusals}, ok
		},
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	l := &live{t: t, xds: srv, st: st, bus: bus, api: hs, ads: discovery.NewAggregatedDiscoveryServiceClient(conn)}
	l.push(1)
	return l
}

// push feeds revision rev and waits for it to be pushed.
func (l *live) push(rev int64) {
	l.t.Helper()
	l.xds.Update(mesh.New(rev, nil))
	l.waitPushed(rev)
}

// waitPushed waits until revision rev has been pushed.
func (l *live) waitPushed(rev int64) {
	l.t.Helper()
	poll.UntilState(l.t, fmt.Sprintf("the push of revision %d", rev), func() (bool, string) {
		got := l.xds.Stats().Revision
		return got == rev, fmt.Sprintf("revision %d pushed", got)
	})
}

// get reads a path with the read token and decodes the JSON into out.
func (l *live) get(path string, out any) {
	l.t.Helper()
	code, body := l.do(http.MethodGet, path, readToken, nil)
	if code != http.StatusOK {
		l.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			l.t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
}

func (l *live) stream() discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	l.t.Cleanup(cancel)
	s, err := l.ads.StreamAggregatedResources(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return s
}

// syncState reports whether the proxy's state for typ is want, and the
// state it is in.
func syncState(p status.Proxy, typ, want string) (bool, string) {
	got := p.Types[typ].SyncState
	return got == want, fmt.Sprintf("%s is %s", typ, got)
}

// clusterPushes reports whether the metrics count n acknowledged Cluster
// pushes, and the count they show.
func clusterPushes(t *testing.T, metrics string, n float64) (bool, string) {
	got := metricValue(t, metrics, `embassy_xds_push_duration_seconds_count{type="Cluster"}`)
	return got == n, fmt.Sprintf("%v Cluster pushes acknowledged", got)
}

func node(id string) *core.Node { return &core.Node{Id: id, UserAgentName: "envoy"} }

func recv(t *testing.T, s discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, typ string) *discovery.DiscoveryResponse {
	t.Helper()
	resp, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != typ {
		t.Fatalf("got a %s response, want %s", resp.GetTypeUrl(), typ)
	}
	return resp
}

func send(t *testing.T, s discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, req *discovery.DiscoveryRequest) {
	t.Helper()
	if err := s.Send(req); err != nil {
		t.Fatal(err)
	}
}

// resourceVersions names and hashes a SotW response's resources the way
// the status API versions them.
func resourceVersions(t *testing.T, resp *discovery.DiscoveryResponse) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range resp.GetResources() {
		m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out[cachev3.GetResourceName(m)] = cachev3.HashResource(a.GetValue())
	}
	return out
}

func TestNackShowsInProxiesAndEvents(t *testing.T) {
	l := startLive(t, time.Minute)
	s := l.stream()
	send(t, s, &discovery.DiscoveryRequest{Node: node("web.default"), TypeUrl: resourcev3.ListenerType})
	resp := recv(t, s, resourcev3.ListenerType)
	sentAt := time.Now()
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, ResponseNonce: resp.GetNonce(),
		ErrorDetail: &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: "listener outbound: bad filter chain"}})

	var got status.Proxy
	poll.UntilState(t, "the NACK in /v1/proxies", func() (bool, string) {
		l.get("/v1/proxies/web.default", &got)
		return syncState(got, resourcev3.ListenerType, status.SyncNacked)
	})
	ts := got.Types[resourcev3.ListenerType]
	if ts.NackCount != 1 || ts.LastNack == nil || ts.LastNack.Message != "listener outbound: bad filter chain" || ts.LastNack.Time.Before(sentAt.Add(-time.Second)) {
		t.Fatalf("listener status after the NACK = %+v", ts)
	}
	if got.SyncState != status.SyncNacked || got.Workload != "web" || got.Namespace != "default" || got.XDS != "sotw" {
		t.Fatalf("proxy = %+v", got)
	}

	var list apiwire.ProxiesResponse
	l.get("/v1/proxies?state=nacked", &list)
	if len(list.Proxies) != 1 || list.Proxies[0].ID != "web.default" {
		t.Fatalf("?state=NACKED = %+v", list.Proxies)
	}
	l.get("/v1/proxies?state=SYNCED", &list)
	if len(list.Proxies) != 0 {
		t.Fatalf("?state=SYNCED lists a proxy whose only type is NACKED: %+v", list.Proxies)
	}

	var evs apiwire.EventsResponse
	l.get("/v1/events?kind=nack", &evs)
	if len(evs.Events) != 1 || evs.Events[0].Proxy != "web.default" || evs.Events[0].Type != resourcev3.ListenerType || evs.Events[0].Message != "listener outbound: bad filter chain" {
		t.Fatalf("nack events = %+v", evs.Events)
	}
}

func TestAProxyThatNeverAcksGoesStale(t *testing.T) {
	l := startLive(t, 200*time.Millisecond)
	s := l.stream()
	send(t, s, &discovery.DiscoveryRequest{Node: node("web.default"), TypeUrl: resourcev3.ClusterType})
	recv(t, s, resourcev3.ClusterType)
	received := time.Now()

	var p status.Proxy
	l.get("/v1/proxies/web.default", &p)
	if time.Since(received) < 100*time.Millisecond && p.Types[resourcev3.ClusterType].SyncState != status.SyncPending {
		t.Fatalf("just sent: state %s, want PENDING", p.Types[resourcev3.ClusterType].SyncState)
	}
	poll.UntilState(t, "STALE after 200ms without an ack", func() (bool, string) {
		l.get("/v1/proxies/web.default", &p)
		return syncState(p, resourcev3.ClusterType, status.SyncStale)
	})
	if time.Since(received) < 200*time.Millisecond {
		t.Fatalf("STALE after %v, before the 200ms bound", time.Since(received))
	}
	var list apiwire.ProxiesResponse
	l.get("/v1/proxies?state=STALE", &list)
	if len(list.Proxies) != 1 || list.Proxies[0].SyncState != status.SyncStale || list.StaleAfterSeconds != 0.2 {
		t.Fatalf("?state=STALE = %+v", list)
	}
}

// configDump is the part of /v1/proxies/{id}/config the test reads.
type configDump struct {
	Configs []struct {
		Type             string `json:"@type"`
		VersionInfo      string `json:"versionInfo"`
		DynamicListeners []struct {
			Name        string `json:"name"`
			ActiveState struct {
				VersionInfo string `json:"versionInfo"`
			} `json:"activeState"`
		} `json:"dynamicListeners"`
		DynamicActiveClusters []struct {
			VersionInfo string          `json:"versionInfo"`
			Cluster     json.RawMessage `json:"cluster"`
		} `json:"dynamicActiveClusters"`
	} `json:"configs"`
	Diff map[string]api.ConfigDiff `json:"diff"`
}

func TestConfigShowsExactlyWhatWasSentAndTheDiffFromTheAck(t *testing.T) {
	l := startLive(t, time.Minute)
	s := l.stream()
	send(t, s, &discovery.DiscoveryRequest{Node: node("web.default"), TypeUrl: resourcev3.ListenerType})
	lds := recv(t, s, resourcev3.ListenerType)
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	cds := recv(t, s, resourcev3.ClusterType)
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, VersionInfo: lds.GetVersionInfo(), ResponseNonce: lds.GetNonce()})
	poll.UntilState(t, "the listener ack", func() (bool, string) {
		var p status.Proxy
		l.get("/v1/proxies/web.default", &p)
		return syncState(p, resourcev3.ListenerType, status.SyncSynced)
	})

	var dump configDump
	l.get("/v1/proxies/web.default/config", &dump)
	if len(dump.Configs) != 2 {
		t.Fatalf("configs = %+v", dump.Configs)
	}
	wantLDS, wantCDS := resourceVersions(t, lds), resourceVersions(t, cds)
	for _, c := range dump.Configs {
		switch c.Type {
		case "type.googleapis.com/envoy.admin.v3.ListenersConfigDump":
			got := map[string]string{}
			for _, dl := range c.DynamicListeners {
				got[dl.Name] = dl.ActiveState.VersionInfo
			}
			if c.VersionInfo != lds.GetVersionInfo() || !mapsEqual(got, wantLDS) {
				t.Errorf("listeners dump %s %v, sent %s %v", c.VersionInfo, got, lds.GetVersionInfo(), wantLDS)
			}
		case "type.googleapis.com/envoy.admin.v3.ClustersConfigDump":
			if c.VersionInfo != cds.GetVersionInfo() || len(c.DynamicActiveClusters) != len(wantCDS) {
				t.Errorf("clusters dump %s with %d clusters, sent %s with %d", c.VersionInfo, len(c.DynamicActiveClusters), cds.GetVersionInfo(), len(wantCDS))
			}
			for _, dc := range c.DynamicActiveClusters {
				if !strings.Contains(string(dc.Cluster), `"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"`) && !strings.Contains(string(dc.Cluster), `"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster"`) {
					t.Errorf("cluster without its type: %s", dc.Cluster)
				}
			}
		default:
			t.Errorf("unexpected config %s", c.Type)
		}
	}
	if d := dump.Diff[resourcev3.ListenerType]; len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.AckedVersion != lds.GetVersionInfo() {
		t.Errorf("acked listeners differ: %+v", d)
	}
	if d := dump.Diff[resourcev3.ClusterType]; len(d.Added) != len(wantCDS) || d.AckedVersion != "" {
		t.Errorf("unacked clusters should all be added: %+v", d)
	}

	// Once the clusters are acked, a new cluster the proxy has not acked
	// yet is the whole difference.
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, VersionInfo: cds.GetVersionInfo(), ResponseNonce: cds.GetNonce()})
	poll.UntilState(t, "the cluster ack", func() (bool, string) {
		var p status.Proxy
		l.get("/v1/proxies/web.default", &p)
		return syncState(p, resourcev3.ClusterType, status.SyncSynced)
	})
	l.fake.SetPort("cache", 6379)
	l.push(2)
	var next *discovery.DiscoveryResponse
	for next == nil {
		r, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetTypeUrl() == resourcev3.ClusterType {
			next = r
		}
	}
	l.get("/v1/proxies/web.default/config", &dump)
	d := dump.Diff[resourcev3.ClusterType]
	if d.Version != next.GetVersionInfo() || !slices.Equal(d.Added, []string{"cache"}) || len(d.Changed)+len(d.Removed) != 0 || d.AckedVersion != cds.GetVersionInfo() {
		t.Errorf("after a push: clusters diff %+v", d)
	}
	if code, _ := l.do(http.MethodGet, "/v1/proxies/nobody.default/config", readToken, nil); code != http.StatusNotFound {
		t.Errorf("config of an unknown proxy: %d", code)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// metricValue finds one sample's value in a text exposition.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

func TestMetricsMoveWithPushes(t *testing.T) {
	l := startLive(t, time.Minute)
	s := l.stream()
	send(t, s, &discovery.DiscoveryRequest{Node: node("web.default"), TypeUrl: resourcev3.ClusterType})
	first := recv(t, s, resourcev3.ClusterType)
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, VersionInfo: first.GetVersionInfo(), ResponseNonce: first.GetNonce()})
	scrape := func() string {
		code, b := l.do(http.MethodGet, "/metrics", readToken, nil)
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: %d %s", code, b)
		}
		return string(b)
	}
	poll.UntilState(t, "the ack in the metrics", func() (bool, string) {
		return clusterPushes(t, scrape(), 1)
	})
	before := scrape()
	if metricValue(t, before, `embassy_xds_connected_proxies{flavour="envoy",xds="sotw"}`) != 1 {
		t.Fatalf("connected proxies:\n%s", before)
	}

	// An apply through the API, published like the control plane does.
	code, body := l.do(http.MethodPost, "/v1/apply", adminToken, apiwire.ApplyRequest{Files: []apiwire.File{{Name: "svc.yaml", Content: meshtest.ServiceEcho}}})
	if code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	rs, rev, err := l.st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	l.fake.SetPort("cache", 6379)
	l.xds.Update(mesh.New(rev, rs))
	l.waitPushed(rev)
	second := recv(t, s, resourcev3.ClusterType)
	send(t, s, &discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, VersionInfo: second.GetVersionInfo(), ResponseNonce: second.GetNonce()})
	poll.UntilState(t, "the second ack in the metrics", func() (bool, string) {
		return clusterPushes(t, scrape(), 2)
	})
	after := scrape()
	for _, series := range []string{`embassy_xds_pushes_total{type="Cluster"}`, `embassy_xds_snapshot_push_duration_seconds_count`} {
		if metricValue(t, after, series) <= metricValue(t, before, series) {
			t.Errorf("%s did not move: %v then %v", series, metricValue(t, before, series), metricValue(t, after, series))
		}
	}
	for _, name := range []string{"embassy_xds_nacks_total", "embassy_xds_debounce_pending_updates"} {
		if !strings.Contains(after, "# HELP "+name+" ") {
			t.Errorf("%s is not exposed", name)
		}
	}
	var evs apiwire.EventsResponse
	l.get("/v1/events", &evs)
	kinds := []string{}
	for _, e := range evs.Events {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, events.KindApply) || !slices.Contains(kinds, events.KindPush) {
		t.Errorf("events %v lack the apply or the push", kinds)
	}
	var st apiwire.StatusResponse
	l.get("/v1/status", &st)
	if st.Version != api.Version || st.Store.Kind != "memory" || st.Store.Revision != rev || st.Counts.Services != 1 || st.Counts.ConnectedProxies != 1 ||
		st.LastPush == nil || st.LastPush.Revision != rev {
		t.Errorf("status = %+v", st)
	}
}

// do sends a request with token ("" for none) and, unless body is nil,
// body as JSON, and returns the status and the raw answer.
func (l *live) do(method, path, token string, body any) (int, []byte) {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.api.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", apiwire.JSONContentType)
	}
	resp, err := l.api.Client().Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}
