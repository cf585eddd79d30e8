package cache

import (
	"context"
	"slices"
	"strings"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// answerDelta returns the incremental response a delta watch gets from a
// type's view: every resource the proxy subscribes to whose version
// differs from the one it holds, and every one it holds that is gone; or
// false when there is none. A wildcard watch's first answer is sent even
// when empty, or Envoy would not finish initializing.
func answerDelta(tv *typeView, req *cachev3.DeltaRequest, sub cachev3.Subscription) (cachev3.DeltaResponse, bool) {
	returned := sub.ReturnedResources()
	// Sized for what the proxy will hold: the server keeps this map per
	// stream, and one grown by doubling is up to twice the size.
	size := len(sub.SubscribedResources())
	if sub.IsWildcard() && tv.set != nil {
		size = tv.set.size()
	}
	next := make(map[string]string, size)
	var upserts []*discovery.Resource
	var removed []string
	consider := func(name string) {
		e, ok := tv.get(name)
		was, held := returned[name]
		switch {
		case ok:
			next[name] = e.hash
			if !held || was != e.hash {
				upserts = append(upserts, e.delta)
			}
		case held:
			removed = append(removed, name)
		}
	}
	if sub.IsWildcard() {
		if tv.set != nil {
			tv.set.each(func(n string, _ *entry) { consider(n) })
		}
		for n := range returned {
			if _, ok := tv.get(n); !ok {
				removed = append(removed, n)
			}
		}
	} else {
		for n := range sub.SubscribedResources() {
			consider(n)
		}
	}
	if len(upserts) == 0 && len(removed) == 0 && !(sub.IsWildcard() && req.GetResponseNonce() == "") {
		return nil, false
	}
	slices.SortFunc(upserts, func(a, b *discovery.Resource) int { return strings.Compare(a.GetName(), b.GetName()) })
	slices.Sort(removed)
	return &deltaResponse{req: req, next: next, out: &discovery.DeltaDiscoveryResponse{
		Resources:         upserts,
		RemovedResources:  removed,
		TypeUrl:           req.GetTypeUrl(),
		SystemVersionInfo: tv.version,
	}}, true
}

// deltaResponse is an incremental answer over shared encodings.
type deltaResponse struct {
	req  *cachev3.DeltaRequest
	next map[string]string
	out  *discovery.DeltaDiscoveryResponse
}

var _ cachev3.DeltaResponse = (*deltaResponse)(nil)

// GetDeltaDiscoveryResponse returns the response, the server's to set its
// nonce on; it is built for this watch alone.
func (r *deltaResponse) GetDeltaDiscoveryResponse() (*discovery.DeltaDiscoveryResponse, error) {
	return r.out, nil
}

// GetDeltaRequest returns the request the response answers.
func (r *deltaResponse) GetDeltaRequest() *discovery.DeltaDiscoveryRequest { return r.req }

// GetSystemVersion returns the type's version in the node's view.
func (r *deltaResponse) GetSystemVersion() (string, error) { return r.out.GetSystemVersionInfo(), nil }

// GetResponseVersion returns the type's version in the node's view.
func (r *deltaResponse) GetResponseVersion() string { return r.out.GetSystemVersionInfo() }

// GetNextVersionMap returns what the proxy holds once it applies the
// response.
func (r *deltaResponse) GetNextVersionMap() map[string]string { return r.next }

// GetReturnedResources returns what the proxy holds once it applies the
// response.
func (r *deltaResponse) GetReturnedResources() map[string]string { return r.next }

// GetContext returns a background context: responses carry none.
func (r *deltaResponse) GetContext() context.Context { return context.Background() }
