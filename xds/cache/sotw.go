package cache

import (
	"context"
	"hash/maphash"
	"iter"
	"maps"
	"slices"
	"strconv"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// CompleteInSotW reports whether a state-of-the-world response of typeURL
// must carry every resource the proxy subscribes to. The xDS protocol
// ("Grouping Resources into Responses") asks it of Listener and Cluster,
// and Envoy applies a Scoped RDS response the same way
// (router/scoped_rds.cc removes every held scope the response lacks): a
// proxy reads one of those missing from a response as removed, and any
// other type's missing resources as unchanged.
func CompleteInSotW(typeURL string) bool {
	return typeURL == resourcev3.ListenerType || typeURL == resourcev3.ClusterType || typeURL == resourcev3.ScopedRouteType
}

// answerSotW returns the response a state-of-the-world watch gets from a
// type's view, or false while it has nothing to send: the proxy holds the
// version and has been answered for the names it subscribes to.
//
// What the proxy holds is read from the protocol itself: the request's
// version is the last one it accepted. The subscription's returned
// resources, which the server keeps per stream, hold one entry: a
// fingerprint of the names the last answer was for, under one of those
// names (the server drops entries the proxy unsubscribes from, so keying
// it by a name it subscribes to keeps it while that name stays). A map
// of every name per stream would cost more than the proxy's whole share
// of everything else.
//
// A response carries everything the proxy subscribes to on a new stream,
// after a rejection (the proxy may hold less than what was sent), when
// its names changed, for Listener and Cluster, for a wildcard
// subscription, and when the view no longer remembers the proxy's
// version; otherwise only what changed since that version.
func answerSotW(tv *typeView, req *cachev3.Request, sub cachev3.Subscription, fp *subPrint) (*SotwResponse, bool) {
	returned := sub.ReturnedResources()
	wildcard := sub.IsWildcard()
	first := len(returned) == 0
	var key, print string
	renamed := false
	if !wildcard {
		key, print = fp.of(sub.SubscribedResources())
		renamed = !first && returned[key] != print
	}
	newVersion := req.GetVersionInfo() != tv.version
	// A rejected version is presented as the request's version (the
	// tracker does it), so the watch waits for new content.
	nacked := req.GetErrorDetail() != nil
	if !first && !newVersion && !renamed {
		return nil, false
	}
	resp := &SotwResponse{req: req, version: tv.version, returned: returned}
	switch {
	case wildcard:
		// A wildcard subscriber (an agent asking for its policy set) can
		// learn that a resource went only from its absence: it always
		// gets everything, whatever the type.
		resp.answer = tv.all()
	case first || nacked || renamed || !tv.remembers(req.GetVersionInfo()) || CompleteInSotW(req.GetTypeUrl()):
		resp.answer = tv.answerFor(print, sub.SubscribedResources())
	default:
		resp.answer = tv.changedFor(req.GetVersionInfo(), print, sub.SubscribedResources())
	}
	switch {
	case wildcard && first:
		// Never empty, so the next request is not taken for a new stream;
		// a map of its own, as a subscription may change it.
		resp.returned = map[string]string{"": tv.version}
	case first || renamed:
		resp.returned = map[string]string{key: print}
	}
	return resp, true
}

// subPrint is a watch's fingerprint of its subscription, worked out on
// its first answer: a watch's names do not change, and each push asks
// every open watch again.
type subPrint struct {
	done       bool
	key, print string
}

func (p *subPrint) of(names map[string]struct{}) (key, print string) {
	if !p.done {
		p.key, p.print = fingerprint(names)
		p.done = true
	}
	return p.key, p.print
}

// namesSeed seeds the fingerprints of subscriptions, which live only as
// long as the process.
var namesSeed = maphash.MakeSeed()

// fingerprint identifies a set of names in one pass, without sorting
// them, and picks one of them (the least) to keep it under.
func fingerprint(names map[string]struct{}) (key, print string) {
	return fingerprintOf(maps.Keys(names), len(names))
}

// Fingerprint identifies a set of distinct names, in any order, the way
// the store tells a SotW stream's names apart.
func Fingerprint(names []string) string {
	_, print := fingerprintOf(slices.Values(names), len(names))
	return print
}

func fingerprintOf(names iter.Seq[string], n int) (key, print string) {
	var sum uint64
	for name := range names {
		sum += maphash.String(namesSeed, name)
		if key == "" || name < key {
			key = name
		}
	}
	return key, printOf(sum, n)
}

// printOf is the fingerprint of n names whose hashes sum to sum.
func printOf(sum uint64, n int) string {
	return strconv.FormatUint(sum, 36) + "." + strconv.Itoa(n)
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

// SotwResponse is a state-of-the-world answer over shared encodings: its
// resources, and their encoding as a response (Encoded), are shared by
// every stream due the same answer.
type SotwResponse struct {
	req      *cachev3.Request
	version  string
	answer   *sotwAnswer
	returned map[string]string
}

var _ cachev3.Response = (*SotwResponse)(nil)

// GetDiscoveryResponse returns a response of its own, for the server to
// set its nonce on, over the shared encoded resources, which nobody
// modifies.
func (r *SotwResponse) GetDiscoveryResponse() (*discovery.DiscoveryResponse, error) {
	return &discovery.DiscoveryResponse{VersionInfo: r.version, Resources: r.answer.resources, TypeUrl: r.req.GetTypeUrl()}, nil
}

// GetRequest returns the request the response answers.
func (r *SotwResponse) GetRequest() *discovery.DiscoveryRequest { return r.req }

// GetVersion returns the response's version.
func (r *SotwResponse) GetVersion() (string, error) { return r.version, nil }

// GetResponseVersion returns the response's version.
func (r *SotwResponse) GetResponseVersion() string { return r.version }

// GetReturnedResources returns the names the proxy has been answered for.
func (r *SotwResponse) GetReturnedResources() map[string]string { return r.returned }

// GetContext returns a background context: responses carry none.
func (r *SotwResponse) GetContext() context.Context { return context.Background() }
