package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/store"
)

func TestFollowReceivesAnEventPublishedAfterSubscribing(t *testing.T) {
	bus := events.New(10)
	bus.Publish(events.Event{Kind: events.KindApply, Revision: 1})
	srv := httptest.NewServer(NewHandler(Options{Store: store.NewMemory(), AdminToken: testToken, Events: bus, Heartbeat: 20 * time.Millisecond}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("follow: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || lines.Text() != ": subscribed" {
		t.Fatalf("first line %q", lines.Text())
	}
	bus.Publish(events.Event{Kind: events.KindNack, Proxy: "web.default", Message: "bad"})
	heartbeats := 0
	for lines.Scan() {
		line := lines.Text()
		if line == ": heartbeat" {
			heartbeats++
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var e events.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if e.Kind != events.KindNack || e.Proxy != "web.default" || e.Seq != 2 {
			t.Fatalf("first streamed event = %+v (the apply before subscribing must not be replayed)", e)
		}
		break
	}
	// Heartbeats keep coming while the stream is idle.
	for heartbeats == 0 && lines.Scan() {
		if lines.Text() == ": heartbeat" {
			heartbeats++
		}
	}
	if heartbeats == 0 {
		t.Fatalf("no heartbeat: %v", lines.Err())
	}
}

func TestEventsListsAppliesAndPolicyLoads(t *testing.T) {
	bus := events.New(10)
	h := serve(t, Options{Events: bus})
	st := h.st
	h.mustApply(apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho})
	h.mustApply(apiwire.File{Name: "echo.yaml", Content: meshtest.ServiceEcho})
	out := getJSON[apiwire.EventsResponse](h, "/v1/events?limit=5")
	if len(out.Events) != 1 || out.Events[0].Kind != events.KindApply || out.Events[0].Revision != st.Revision() ||
		len(out.Events[0].Resources) != 1 || out.Events[0].Resources[0] != "created Service/default/echo" {
		t.Fatalf("events after an apply and an unchanged re-apply = %+v", out.Events)
	}
	if code, _ := h.do(http.MethodGet, "/v1/events?limit=x", testToken, nil); code != http.StatusBadRequest {
		t.Fatalf("bad limit: %d", code)
	}
}

// TestEventsShowEveryReplicasByTimeAndFilterOne: a bus that relays
// another replica's events lists both replicas' by time, each named, and
// ?replica= keeps one's.
func TestEventsShowEveryReplicasByTimeAndFilterOne(t *testing.T) {
	bus := events.New(10)
	bus.SetReplica("10.0.0.1:8080")
	t0 := time.Now()
	bus.Publish(events.Event{Time: t0, Kind: events.KindApply, Revision: 4})
	bus.Relay("10.0.0.2:8080", 1, []events.Event{{Seq: 9, Time: t0.Add(-time.Second), Kind: events.KindConnect, Proxy: "b.default"},
		{Seq: 10, Time: t0.Add(time.Second), Kind: events.KindNack, Proxy: "b.default", Message: "bad"}})
	h := serve(t, Options{Events: bus})
	all := getJSON[apiwire.EventsResponse](h, "/v1/events")
	var got []string
	for _, e := range all.Events {
		got = append(got, e.Replica+" "+e.Kind)
	}
	if want := "10.0.0.2:8080 connect,10.0.0.1:8080 apply,10.0.0.2:8080 nack"; strings.Join(got, ",") != want {
		t.Fatalf("events = %s, want %s", strings.Join(got, ","), want)
	}
	one := getJSON[apiwire.EventsResponse](h, "/v1/events?replica=10.0.0.2:8080&kind=nack")
	if len(one.Events) != 1 || one.Events[0].Message != "bad" {
		t.Fatalf("?replica=&kind=nack: %+v", one.Events)
	}
}

func TestPoliciesLoadedCountsInEnglish(t *testing.T) {
	for n, want := range map[int]string{1: "1 authorization policy loaded", 3: "3 authorization policies loaded"} {
		if got := policiesLoaded(n); got != want {
			t.Errorf("policiesLoaded(%d) = %q, want %q", n, got, want)
		}
	}
}
