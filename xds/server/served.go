package server

import (
	"maps"
	"sort"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/anypb"

	estatus "embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/xds/cache"
)

// served is what one node holds of one type: the last sent state and the
// last acked one. A SotW response of Listener or Cluster carries the
// whole state, so it is kept as sent; one of another type carries what
// changed, which the proxy adds to what it holds (held). Delta responses
// carry changes, which are summed into the current state and, once
// answered, into the acked state.
type served struct {
	version string
	// sotw is what the node holds by SotW (shared, never mutated).
	sotw held
	// subscribed counts the names the node's last SotW request of a type
	// that need not be complete asks for (0: all), and print is their
	// cache.Fingerprint.
	subscribed int
	print      string
	// isDelta says the type is served over a delta stream; delta is its
	// current state.
	isDelta bool
	delta   deltaHeld
	// pending are the delta responses not answered yet, oldest first.
	pending []deltaChange

	ackedVersion string
	ackedSotw    held
	// deltaAcked says a delta response was acked. What the node acked is
	// then the state before the oldest pending response (or the current
	// one), unless a rejection made it differ for longer: diverged says
	// so, and ackedDelta holds it then.
	deltaAcked bool
	diverged   bool
	ackedDelta deltaHeld
}

// held is what SotW responses gave a node: a base list, and the resources
// sent since by name, which replace the base's of the same name. Both are
// replaced, never changed, so a held value may be kept as the acked state.
type held struct {
	base []*anypb.Any
	over map[string]*anypb.Any
}

// maxOver bounds the resources kept apart from the base; past it they are
// merged into a new base.
const maxOver = 64

// deltaChange is one delta response's changes, and what the node held
// before it.
type deltaChange struct {
	nonce   string
	upserts []*discovery.Resource
	removed []string
	before  deltaHeld
}

// sentSotW records a SotW response. A response of a type that need not be
// complete adds to what the node holds, unless it carries every name the
// node subscribes to.
func (s *served) sentSotW(typeURL, version string, res []*anypb.Any) {
	s.version = version
	if cache.CompleteInSotW(typeURL) || (s.subscribed > 0 && len(res) >= s.subscribed) {
		s.sotw = held{base: res}
		return
	}
	over := make(map[string]*anypb.Any, len(s.sotw.over)+len(res))
	maps.Copy(over, s.sotw.over)
	for _, a := range res {
		over[cache.ResourceName(a)] = a
	}
	s.sotw = held{base: s.sotw.base, over: over}
	if len(over) > maxOver {
		s.sotw = held{base: s.sotw.merged(nil)}
	}
}

// subscribe notes the names a SotW request of a type that need not be
// complete asks for. A proxy drops what it no longer subscribes to, so
// when the names change, so does what it holds.
// print and count are the fingerprint and number of the names
// (cache.SotwSub's), so a request that repeats them costs nothing here.
func (s *served) subscribe(print string, count int, names func() []string) {
	if print == s.print {
		return
	}
	s.subscribed, s.print = count, print
	if count == 0 {
		return
	}
	ns := names()
	s.sotw, s.ackedSotw = s.sotw.only(ns), s.ackedSotw.only(ns)
}

// only is what h holds of names; nothing held stays nothing.
func (h held) only(names []string) held {
	if h.base == nil && h.over == nil {
		return h
	}
	return held{base: h.merged(names)}
}

// merged lists what h holds, the base's resources replaced by over's;
// with names, only those.
func (h held) merged(names []string) []*anypb.Any {
	var keep map[string]bool
	if names != nil {
		keep = make(map[string]bool, len(names))
		for _, n := range names {
			keep[n] = true
		}
	}
	out := make([]*anypb.Any, 0, len(h.base)+len(h.over))
	for _, a := range h.base {
		n := cache.ResourceName(a)
		if _, replaced := h.over[n]; !replaced && (keep == nil || keep[n]) {
			out = append(out, a)
		}
	}
	for n, a := range h.over {
		if keep == nil || keep[n] {
			out = append(out, a)
		}
	}
	return out
}

// sentDelta applies a delta response to the current state and queues it
// for the answer.
func (s *served) sentDelta(nonce, version string, res []*discovery.Resource, removed []string) {
	s.isDelta = true
	s.version = version
	s.pending = append(s.pending, deltaChange{nonce: nonce, upserts: res, removed: removed, before: s.delta})
	s.delta = s.delta.apply(res, removed)
}

// answered settles the response with nonce: an ack makes it (and every
// earlier unanswered delta response) the acked state; a nack drops it.
func (s *served) answered(nonce, version string, sotw held, nacked bool) {
	if !s.isDelta {
		if !nacked {
			s.ackedVersion, s.ackedSotw = version, sotw
		}
		return
	}
	for i, ch := range s.pending {
		if ch.nonce != nonce {
			continue
		}
		if nacked && !s.diverged {
			// From now on the acked state is not the one before the
			// oldest pending response.
			s.diverged, s.ackedDelta = true, ch.before
			s.pending = append([]deltaChange(nil), s.pending[i+1:]...)
			return
		}
		if s.diverged {
			for _, earlier := range s.pending[:i] {
				s.ackedDelta = s.ackedDelta.apply(earlier.upserts, earlier.removed)
			}
			if !nacked {
				s.ackedDelta = s.ackedDelta.apply(ch.upserts, ch.removed)
			}
		}
		if !nacked {
			s.ackedVersion = version
		}
		s.deltaAcked = true
		s.pending = append([]deltaChange(nil), s.pending[i+1:]...)
		if len(s.pending) == 0 && s.diverged && s.ackedDelta.sameAs(s.delta) {
			s.diverged, s.ackedDelta = false, deltaHeld{}
		}
		return
	}
}

// ackedDeltaHeld is what the node acked: ackedDelta, or the state before
// the oldest pending response; ok is false before any ack.
func (s *served) ackedDeltaHeld() (h deltaHeld, ok bool) {
	switch {
	case !s.deltaAcked:
		return deltaHeld{}, false
	case s.diverged:
		return s.ackedDelta, true
	case len(s.pending) > 0:
		return s.pending[0].before, true
	}
	return s.delta, true
}

// ackedDeltaNow is what the node acked, by name; nil before any ack.
func (s *served) ackedDeltaNow() map[string]string {
	h, ok := s.ackedDeltaHeld()
	if !ok {
		return nil
	}
	return h.versions()
}

// snapshot copies what is needed to answer a config query; it runs under
// the tracker's lock, so the expensive parts (names, hashes) wait for
// resolve.
func (s *served) snapshot(typeURL string) servedCopy {
	c := servedCopy{typeURL: typeURL, version: s.version, ackedVersion: s.ackedVersion, sotw: s.sotw, ackedSotw: s.ackedSotw}
	if s.isDelta {
		c.isDelta, c.delta = true, s.delta
		c.ackedDelta, c.deltaAcked = s.ackedDeltaHeld()
	}
	return c
}

type servedCopy struct {
	typeURL, version, ackedVersion string
	sotw, ackedSotw                held
	isDelta, deltaAcked            bool
	delta, ackedDelta              deltaHeld
}

// resolve names and versions every resource. A SotW resource's version is
// go-control-plane's hash of its bytes, which is what a delta client is
// told for the same resource.
func (c servedCopy) resolve() estatus.ServedType {
	out := estatus.ServedType{TypeURL: c.typeURL, Version: c.version, AckedVersion: c.ackedVersion, Resources: []estatus.ServedResource{}}
	if c.isDelta {
		c.delta.each(func(r *discovery.Resource) {
			out.Resources = append(out.Resources, estatus.ServedResource{Name: r.GetName(), Version: r.GetVersion(), Resource: r.GetResource()})
		})
		if c.deltaAcked {
			out.Acked = c.ackedDelta.versions()
		}
	} else {
		out.Resources = sotwResources(c.sotw.merged(nil))
		if c.ackedSotw.base != nil || c.ackedSotw.over != nil || c.ackedVersion != "" {
			out.Acked = map[string]string{}
			for _, r := range sotwResources(c.ackedSotw.merged(nil)) {
				out.Acked[r.Name] = r.Version
			}
		}
	}
	sort.Slice(out.Resources, func(i, j int) bool { return out.Resources[i].Name < out.Resources[j].Name })
	return out
}

func sotwResources(in []*anypb.Any) []estatus.ServedResource {
	out := make([]estatus.ServedResource, 0, len(in))
	for _, a := range in {
		out = append(out, estatus.ServedResource{Name: cache.ResourceName(a), Version: cachev3.HashResource(a.GetValue()), Resource: a})
	}
	return out
}
