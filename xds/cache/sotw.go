package cache

import (
	"context"
	"slices"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// CompleteInSotW reports whether a state-of-the-world response of typeURL
// must carry every resource the proxy subscribes to. The xDS protocol
// ("Grouping Resources into Responses") asks it of Listener and Cluster
// only: a proxy reads a Listener or Cluster missing from a response as
// removed, and any other type's missing resources as unchanged.
func CompleteInSotW(typeURL string) bool {
	return typeURL == resourcev3.ListenerType || typeURL == resourcev3.ClusterType
}

// answerSotW returns the response a state-of-the-world watch gets from a
// type's view, or false while it has nothing to send: the proxy holds the
// version and every name it subscribes to has been answered.
//
// What the proxy holds is read from the protocol itself: the request's
// version is the last one it accepted, and the subscription's returned
// resources (which the server keeps per stream and prunes as the proxy
// unsubscribes) are the names it was answered for. A response carries
// everything the proxy subscribes to on a new stream, after a rejection
// (the proxy may hold less than what was sent), for Listener and Cluster,
// and when the view no longer remembers the proxy's version; otherwise
// only what changed since that version, and names newly subscribed.
func answerSotW(tv *typeView, req *cachev3.Request, sub cachev3.Subscription) (cachev3.Response, bool) {
	returned := sub.ReturnedResources()
	wildcard := sub.IsWildcard()
	var added []string
	if !wildcard {
		for n := range sub.SubscribedResources() {
			if _, ok := returned[n]; !ok {
				added = append(added, n)
			}
		}
	}
	first := len(returned) == 0
	newVersion := req.GetVersionInfo() != tv.version
	// A rejected version is presented as the request's version (the
	// tracker does it), so the watch waits for new content.
	nacked := req.GetErrorDetail() != nil
	if !first && !newVersion && len(added) == 0 {
		return nil, false
	}
	resp := &sotwResponse{req: req, version: tv.version, returned: returned}
	var names []string
	changed, known := tv.changedSince(req.GetVersionInfo())
	switch {
	case first || nacked || !known || CompleteInSotW(req.GetTypeUrl()):
		if wildcard {
			resp.resources = tv.all()
			break
		}
		names = subscribed(sub)
	default:
		names = added
		for n := range changed {
			if _, ok := sub.SubscribedResources()[n]; ok || wildcard {
				names = append(names, n)
			}
		}
	}
	if names != nil {
		resp.resources = encodedNamed(tv, names)
	}
	switch {
	case wildcard:
		// Never empty, so the next request is not taken for a new stream;
		// a map of its own, as a subscription may change it.
		resp.returned = map[string]string{"": tv.version}
	case first || len(added) > 0:
		resp.returned = make(map[string]string, len(sub.SubscribedResources()))
		for n := range sub.SubscribedResources() {
			resp.returned[n] = tv.version
		}
	}
	return resp, true
}

// subscribed lists the names a subscription asks for.
func subscribed(sub cachev3.Subscription) []string {
	out := make([]string, 0, len(sub.SubscribedResources()))
	for n := range sub.SubscribedResources() {
		out = append(out, n)
	}
	return out
}

// encodedNamed returns the encodings of the named resources the view
// holds, sorted by name; names it does not hold are left out.
func encodedNamed(tv *typeView, names []string) []*anypb.Any {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	out := make([]*anypb.Any, 0, len(names))
	for _, n := range names {
		if e, ok := tv.get(n); ok {
			out = append(out, e.any)
		}
	}
	return out
}

// sotwResponse is a state-of-the-world answer over shared encodings.
type sotwResponse struct {
	req       *cachev3.Request
	version   string
	resources []*anypb.Any
	returned  map[string]string
}

var _ cachev3.Response = (*sotwResponse)(nil)

// GetDiscoveryResponse returns a response of its own, for the server to
// set its nonce on, over the shared encoded resources, which nobody
// modifies.
func (r *sotwResponse) GetDiscoveryResponse() (*discovery.DiscoveryResponse, error) {
	return &discovery.DiscoveryResponse{VersionInfo: r.version, Resources: r.resources, TypeUrl: r.req.GetTypeUrl()}, nil
}

// GetRequest returns the request the response answers.
func (r *sotwResponse) GetRequest() *discovery.DiscoveryRequest { return r.req }

// GetVersion returns the response's version.
func (r *sotwResponse) GetVersion() (string, error) { return r.version, nil }

// GetResponseVersion returns the response's version.
func (r *sotwResponse) GetResponseVersion() string { return r.version }

// GetReturnedResources returns the names the proxy has been answered for.
func (r *sotwResponse) GetReturnedResources() map[string]string { return r.returned }

// GetContext returns a background context: responses carry none.
func (r *sotwResponse) GetContext() context.Context { return context.Background() }
