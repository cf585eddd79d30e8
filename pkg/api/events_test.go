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

func TestPoliciesLoadedCountsInEnglish(t *testing.T) {
	for n, want := range map[int]string{1: "1 authorization policy loaded", 3: "3 authorization policies loaded"} {
		if got := policiesLoaded(n); got != want {
			t.Errorf("policiesLoaded(%d) = %q, want %q", n, got, want)
		}
	}
}
