package bench

import (
	"encoding/json"
	"fmt"
)

// callersPolicy is the deterministic policy of the cache scenario: a
// caller, by its SPIFFE ID, may use only the path prefixes data.callers
// grants it. It reads two input fields, so the agent caches its
// decisions keyed on them.
const callersPolicy = `package envoy.authz

default allow := false

allow if {
	some prefix in data.callers[input.attributes.source.principal]
	startswith(input.attributes.request.http.path, prefix)
}
`

// callerCount is how many distinct callers, each with a path of its own,
// the cache scenario's requests come from.
const callerCount = 50

func callerID(i int) string {
	return fmt.Sprintf("spiffe://embassy.local/ns/bench/sa/caller-%02d", i)
}

// callersData grants every even caller /api/items/ and every odd one only
// /admin/, so half of the requests are allowed.
func callersData() json.RawMessage {
	grants := map[string][]string{}
	for i := range callerCount {
		grants[callerID(i)] = []string{"/admin/"}
		if i%2 == 0 {
			grants[callerID(i)] = []string{"/api/items/"}
		}
	}
	raw, err := json.Marshal(map[string]any{"callers": grants})
	if err != nil {
		panic(err) // maps of strings
	}
	return raw
}

// callerRequests are 50 requests, each from another caller to another
// path, as many as the set of the JWT scenario.
func callerRequests() []authzRequest {
	out := make([]authzRequest, callerCount)
	for i := range out {
		path := fmt.Sprintf("/api/items/%d", i)
		req := checkRequest("GET", path, map[string]string{
			":authority": "bookstore.bench.svc", "user-agent": "embassy-bench/1.0",
			"x-request-id": fmt.Sprintf("callers-%d", i),
		})
		req.Attributes.Source.Principal = callerID(i)
		out[i] = authzRequest{name: fmt.Sprintf("GET %s from %s", path, callerID(i)), req: req, want: i%2 == 0}
	}
	return out
}
