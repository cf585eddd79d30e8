package controlplane

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/rollout"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
)

// proxiesNow is a fixed list of connected proxies, for the fleet's own
// logic; the fleet over real etcd and xDS is tested in cmd/embassyctl
// and e2e.
type proxiesNow []status.Proxy

func (p proxiesNow) Proxies() []status.Proxy { return p }

var fleetT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func kinds(evs []events.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind+" "+e.Proxy)
	}
	return strings.Join(out, ", ")
}

func TestAReplicaReportsItsProxiesComingAndGoingOnce(t *testing.T) {
	bus := events.New(0)
	f := &fleet{changes: rollout.NewTracker(), events: bus, log: hclog.NewNullLogger()}
	a := status.Proxy{ID: "a.default", Flavour: "envoy", ConnectedSince: fleetT0}
	agent := status.Proxy{ID: "a.default", Flavour: "agent", ConnectedSince: fleetT0}
	f.local = proxiesNow{a, agent}
	f.report(fleetT0.Add(time.Second))
	f.report(fleetT0.Add(2 * time.Second))
	if got := kinds(bus.Recent(0)); got != "connect a.default#agent, connect a.default" && got != "connect a.default, connect a.default#agent" {
		t.Fatalf("after two reports: %s", got)
	}
	// a reconnected between two reports; the agent left.
	a.ConnectedSince = fleetT0.Add(2500 * time.Millisecond)
	f.local = proxiesNow{a}
	r := f.report(fleetT0.Add(3 * time.Second))
	if got := kinds(bus.Recent(3)); !strings.Contains(got, "disconnect a.default#agent") || !strings.HasSuffix(got, "connect a.default") || strings.Count(got, "disconnect") != 2 {
		t.Fatalf("after a reconnect and a departure: %s", got)
	}
	if len(r.Events) != 5 || r.Epoch != f.epoch {
		t.Fatalf("the report carries the replica's latest events: %+v", r.Events)
	}
}

func TestAReplicaReportsAnAckOncePerPush(t *testing.T) {
	bus := events.New(0)
	tr := rollout.NewTracker()
	f := &fleet{changes: tr, events: bus, local: proxiesNow{}, log: hclog.NewNullLogger()}
	tr.Pushed(4, fleetT0, map[string]map[string]string{"a": {"cds": "v4"}, "b": {"cds": "v4"}})
	tr.Pushed(5, fleetT0, nil)
	tr.Answered("a", "cds", "v4", "", fleetT0.Add(time.Millisecond))
	f.report(fleetT0)
	tr.Answered("b", "cds", "v4", "", fleetT0.Add(2*time.Millisecond))
	f.report(fleetT0)
	f.report(fleetT0)
	var acks []events.Event
	for _, e := range bus.Recent(0) {
		if e.Kind == events.KindAck {
			acks = append(acks, e)
		}
	}
	if len(acks) != 1 || acks[0].Revision != 4 || acks[0].Proxies != 2 || acks[0].DurationSeconds != 0.002 {
		t.Fatalf("ack events: %+v", acks)
	}
}

func TestAnEventIsCutForTheOtherReplicas(t *testing.T) {
	var res []string
	for i := range fleetEventItems + 5 {
		res = append(res, fmt.Sprintf("created Service/default/s%d", i))
	}
	e := events.Event{Replica: "r0", Resources: res, Refusal: &events.Refusal{Problems: make([]events.Problem, fleetEventItems+1)}}
	cut := forPeers(e)
	if len(cut.Resources) != fleetEventItems+1 || cut.Resources[fleetEventItems] != "(5 more on replica r0)" || len(cut.Refusal.Problems) != fleetEventItems {
		t.Fatalf("cut: %d resources (%q), %d problems", len(cut.Resources), cut.Resources[len(cut.Resources)-1], len(cut.Refusal.Problems))
	}
	if len(e.Resources) != fleetEventItems+5 || len(e.Refusal.Problems) != fleetEventItems+1 || e.Resources[fleetEventItems] != "created Service/default/s20" {
		t.Fatal("cutting an event for the others changed this replica's own")
	}
}

func TestAReplicaReadsTheReportOfAReplicaOfTheReleaseBefore(t *testing.T) {
	old, _ := json.Marshal([]status.Proxy{{ID: "a.default"}})
	r, err := decodeFleetReport(old)
	if err != nil || len(r.Proxies) != 1 || r.Proxies[0].ID != "a.default" {
		t.Fatalf("a list of proxies: %+v %v", r, err)
	}
	if _, err := decodeFleetReport([]byte(`{"proxies": 3}`)); err == nil {
		t.Fatal("a report that does not decode was read")
	}
}

// TestAReportOfThousandsOfProxiesFitsAnEtcdRequest: a replica with 5,000
// proxies, each with four types at distinct versions and times, publishes
// a report well inside etcd's default request limit, though its JSON
// alone is several times over it; and it reads back whole.
func TestAReportOfThousandsOfProxiesFitsAnEtcdRequest(t *testing.T) {
	const n = 5000
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := fleetReport{Epoch: t0.UnixNano()}
	for i := range n {
		p := status.Proxy{ID: fmt.Sprintf("web-%d.shop", i), Flavour: "envoy", XDS: "sotw", ConnectedSince: t0.Add(time.Duration(i) * time.Millisecond),
			Identity: "spiffe://embassy.local/ns/shop/sa/web", Workload: fmt.Sprintf("web-%d", i), Namespace: "shop", Types: map[string]status.TypeStatus{}}
		for j, typ := range []string{"Listener", "Cluster", "ClusterLoadAssignment", "RouteConfiguration"} {
			at := t0.Add(time.Duration(i*7+j*13) * time.Microsecond)
			v := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15+uint64(j))
			p.Types["type.googleapis.com/envoy.config.v3."+typ] = status.TypeStatus{VersionSent: v, SentAt: at, VersionAcked: v, AckedAt: at.Add(3 * time.Millisecond), TimeToAckSeconds: 0.003}
		}
		r.Proxies = append(r.Proxies, p)
	}
	plain, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encodeFleetReport(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d proxies: %d KiB of JSON, %d KiB published", n, len(plain)>>10, len(raw)>>10)
	if len(plain) <= store.DefaultEtcdMaxRequestBytes {
		t.Fatalf("the plain report (%d B) already fits: the test no longer shows anything", len(plain))
	}
	if len(raw) > store.DefaultEtcdMaxRequestBytes/2 {
		t.Errorf("the published report is %d KiB, over half etcd's %d KiB request limit", len(raw)>>10, store.DefaultEtcdMaxRequestBytes>>10)
	}
	back, err := decodeFleetReport(raw)
	if err != nil || len(back.Proxies) != n || back.Proxies[n-1].Types["type.googleapis.com/envoy.config.v3.Cluster"].VersionAcked != r.Proxies[n-1].Types["type.googleapis.com/envoy.config.v3.Cluster"].VersionAcked {
		t.Fatalf("read back %d proxies, %v", len(back.Proxies), err)
	}
	if _, err := decodeFleetReport([]byte(gzipMagic + "not gzip")); err == nil {
		t.Error("a damaged gzipped report was read")
	}
	// A replica of the release before published plain JSON.
	if back, err := decodeFleetReport(plain); err != nil || len(back.Proxies) != n {
		t.Errorf("a plain report read back %d proxies, %v", len(back.Proxies), err)
	}
}
