package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/resource"
)

// defaultHeartbeat is how often a followed event stream sends a comment
// line, so proxies and load balancers keep an idle stream open.
const defaultHeartbeat = 15 * time.Second

// defaultEventsLimit is how many events GET /v1/events returns unless
// ?limit= says otherwise.
const defaultEventsLimit = 100

// events serves recent events, or follows them as Server-Sent Events with
// "Accept: text/event-stream" or ?follow=true until the client goes; on
// etcd, those of every replica, ?replica= keeping one's.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultEventsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit=%q: want a whole number (0 for every event kept)", v))
			return
		}
		limit = n
	}
	kind, replica := q.Get("kind"), q.Get("replica")
	match := func(e events.Event) bool {
		return (kind == "" || e.Kind == kind) && (replica == "" || e.Replica == replica)
	}
	follow := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("follow=%q is not a boolean: use follow=true", v))
			return
		}
		follow = follow || b
	}
	if !follow {
		out := apiwire.EventsResponse{Events: []events.Event{}}
		for _, e := range s.o.Events.Recent(0) {
			if match(e) {
				out.Events = append(out.Events, e)
			}
		}
		if limit > 0 && len(out.Events) > limit {
			out.Events = out.Events[len(out.Events)-limit:]
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.followEvents(w, r, match)
}

// followEvents streams the events published (or, on etcd, relayed from
// the other replicas) after the request that match, as SSE.
func (s *server) followEvents(w http.ResponseWriter, r *http.Request, match func(events.Event) bool) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "this server cannot stream responses")
		return
	}
	ch := s.o.Events.Subscribe(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A first comment tells the client the stream is open and subscribed.
	fmt.Fprint(w, ": subscribed\n\n")
	flusher.Flush()
	tick := time.NewTicker(s.o.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case e, ok := <-ch:
			if !ok {
				return
			}
			if !match(e) {
				continue
			}
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// published reports a committed apply or delete as events: one for the
// change, a policy load when AuthorizationPolicies changed, and one per
// Workload the change left out of a Service it names.
func (s *server) published(kind string, res *apply.Result) {
	if s.o.Events == nil || res == nil || res.DryRun {
		return
	}
	var changed, policies []string
	for _, it := range res.Items {
		if it.Action == apply.Unchanged {
			continue
		}
		changed = append(changed, string(it.Action)+" "+it.Key.String())
		if it.Key.Kind == resource.KindAuthorizationPolicy {
			policies = append(policies, it.Key.String())
		}
	}
	if len(changed) == 0 {
		return
	}
	s.o.Events.Publish(events.Event{Kind: kind, Revision: res.Revision, Resources: changed})
	if len(policies) > 0 {
		s.o.Events.Publish(events.Event{Kind: events.KindPolicy, Revision: res.Revision, Resources: policies,
			Message: policiesLoaded(len(policies))})
	}
	for _, e := range res.Excluded {
		s.o.Events.Publish(events.Event{Kind: events.KindExcluded, Revision: res.Revision,
			Resources: []string{e.Workload.String(), e.Service.String()}, Message: e.Reason})
	}
}

// policiesLoaded is the policy event's message for n applied policies.
func policiesLoaded(n int) string {
	if n == 1 {
		return "1 authorization policy loaded"
	}
	return fmt.Sprintf("%d authorization policies loaded", n)
}
