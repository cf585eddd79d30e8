package cache

import (
	"hash/maphash"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// SotwSub is what one state-of-the-world stream subscribes to of one
// type, as go-control-plane's stream.Subscription (it implements
// cachev3.Subscription, so answerSotW reads either), but with its names
// held as a set interned across streams and recognised, not rebuilt,
// when a request repeats them: a SotW proxy repeats every name it
// subscribes to in each request, and a map of them per stream and
// request cost more than the rest of a push's work per proxy. A SotwSub
// belongs to one stream's goroutine.
type SotwSub struct {
	wildcard bool
	// legacy keeps an empty request from unsubscribing a wildcard
	// subscription that began empty (the protocol's legacy wildcard).
	legacy bool
	names  *nameSet
	// returned is what answerSotW left to tell the next answer what the
	// proxy was answered for; at most one entry, never changed in place.
	returned map[string]string
}

var _ cachev3.Subscription = (*SotwSub)(nil)

// NewSotwSub starts the subscription of a stream's first request of a
// type, as stream.NewSotwSubscription with the legacy wildcard allowed.
func NewSotwSub(names []string) *SotwSub {
	s := &SotwSub{wildcard: len(names) == 0, legacy: true, names: emptyNames}
	s.Set(names)
	return s
}

// Set takes a later request's names, as stream.Subscription's
// SetResourceSubscription: "*" subscribes to all, and what the proxy was
// answered for under a name it no longer asks for is forgotten. Names
// equal to the current set change nothing and cost one lookup each.
func (s *SotwSub) Set(names []string) {
	if s.legacy {
		if len(names) == 0 {
			return
		}
		s.legacy = false
	}
	if !s.same(names) {
		has := make(map[string]struct{}, len(names))
		for _, n := range names {
			has[Intern(n)] = struct{}{}
		}
		_, explicit := has[wildcardName]
		delete(has, wildcardName)
		s.wildcard = explicit
		s.names = internNameSet(has)
	} else {
		s.wildcard = false
	}
	if s.wildcard {
		return
	}
	for k := range s.returned {
		if _, ok := s.names.has[k]; !ok {
			s.returned = nil
		}
	}
}

// same reports whether names are exactly the current set, without "*":
// each is in it, and their fingerprint (which a repeated name would
// change) is the set's.
func (s *SotwSub) same(names []string) bool {
	if len(names) != len(s.names.has) || len(names) == 0 {
		return false
	}
	var sum uint64
	for _, n := range names {
		if _, ok := s.names.has[n]; !ok {
			return false
		}
		sum += maphash.String(namesSeed, n)
	}
	return printOf(sum, len(names)) == s.names.print
}

// Print returns the fingerprint of the subscribed names (Fingerprint).
func (s *SotwSub) Print() string { return s.names.print }

// Len counts the subscribed names, "*" left out.
func (s *SotwSub) Len() int { return len(s.names.has) }

// ReturnedResources implements cachev3.Subscription.
func (s *SotwSub) ReturnedResources() map[string]string { return s.returned }

// SubscribedResources implements cachev3.Subscription; the map is shared
// by every stream subscribing to the same names.
func (s *SotwSub) SubscribedResources() map[string]struct{} { return s.names.has }

// IsWildcard implements cachev3.Subscription.
func (s *SotwSub) IsWildcard() bool { return s.wildcard }

// Answered records what an answer left the proxy answered for
// (cachev3.Response.GetReturnedResources).
func (s *SotwSub) Answered(returned map[string]string) { s.returned = returned }

// AnswerSotW returns the state-of-the-world response that the node with
// key is due for typeURL, given its request and subscription, as a watch
// of CreateWatch would be answered; false when the node has no view, the
// view does not serve the type, or nothing is due.
func (s *Store) AnswerSotW(key string, req *cachev3.Request, sub *SotwSub) (*SotwResponse, bool) {
	v, err := s.View(key)
	if err != nil {
		return nil, false
	}
	tv := v.types[req.GetTypeUrl()]
	if tv == nil {
		return nil, false
	}
	fp := subPrint{done: true, key: sub.names.key, print: sub.names.print}
	return answerSotW(tv, req, sub, &fp)
}
