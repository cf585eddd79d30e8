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
	// delta is the current state of a delta stream, by resource name.
	delta map[string]*discovery.Resource
	// pending are the delta responses not answered yet, oldest first.
	pending []deltaChange

	ackedVersion string
	ackedSotw    held
	// deltaAcked says a delta response was acked. What the node acked is
	// then delta with the pending changes undone, unless a rejection made
	// it differ for longer: ackedDelta holds it then. A second map per
	// node of every resource would double what tracking a delta proxy
	// costs.
	deltaAcked bool
	ackedDelta map[string]string
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

// deltaChange is one delta response's changes, and the version each
// name it changes had before ("" for none), to undo it.
type deltaChange struct {
	nonce   string
	upserts map[string]string
	removed []string
	was     map[string]string
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
func (s *served) subscribe(names []string) {
	print := cache.Fingerprint(names)
	if print == s.print {
		return
	}
	s.subscribed, s.print = len(names), print
	if len(names) == 0 {
		return
	}
	s.sotw, s.ackedSotw = s.sotw.only(names), s.ackedSotw.only(names)
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
	if s.delta == nil {
		s.delta = make(map[string]*discovery.Resource, len(res))
	}
	s.version = version
	ch := deltaChange{nonce: nonce, upserts: make(map[string]string, len(res)), removed: removed, was: make(map[string]string, len(res)+len(removed))}
	for _, r := range res {
		ch.was[r.GetName()] = s.delta[r.GetName()].GetVersion()
		s.delta[r.GetName()] = r
		ch.upserts[r.GetName()] = r.GetVersion()
	}
	for _, n := range removed {
		ch.was[n] = s.delta[n].GetVersion()
		delete(s.delta, n)
	}
	s.pending = append(s.pending, ch)
}

// answered settles the response with nonce: an ack makes it (and every
// earlier unanswered delta response) the acked state; a nack drops it.
func (s *served) answered(nonce, version string, sotw held, nacked bool) {
	if s.delta == nil && len(s.pending) == 0 {
		if !nacked {
			s.ackedVersion, s.ackedSotw = version, sotw
		}
		return
	}
	for i, ch := range s.pending {
		if ch.nonce != nonce {
			continue
		}
		if nacked && s.ackedDelta == nil {
			// From now on the acked state is not the current one undone.
			s.ackedDelta = s.undone(i)
			s.pending = append([]deltaChange(nil), s.pending[i+1:]...)
			return
		}
		for _, earlier := range s.pending[:i] {
			s.ackDelta(earlier)
		}
		if !nacked {
			s.ackDelta(ch)
			s.ackedVersion = version
		}
		s.deltaAcked = true
		s.pending = append([]deltaChange(nil), s.pending[i+1:]...)
		if len(s.pending) == 0 && s.ackedDelta != nil && s.ackedIsCurrent() {
			s.ackedDelta = nil
		}
		return
	}
}

// ackDelta adds an acked change to ackedDelta, when the acked state is
// kept apart.
func (s *served) ackDelta(ch deltaChange) {
	if s.ackedDelta == nil {
		return
	}
	for n, v := range ch.upserts {
		s.ackedDelta[n] = v
	}
	for _, n := range ch.removed {
		delete(s.ackedDelta, n)
	}
}

// ackedDeltaNow is what the node acked, by name: ackedDelta, or the
// current state with the pending changes undone, newest first; nil before
// any ack.
func (s *served) ackedDeltaNow() map[string]string {
	switch {
	case !s.deltaAcked:
		return nil
	case s.ackedDelta != nil:
		return maps.Clone(s.ackedDelta)
	}
	return s.undone(0)
}

// undone is the current state with the pending changes from the one at
// index from on undone, newest first.
func (s *served) undone(from int) map[string]string {
	out := make(map[string]string, len(s.delta))
	for n, r := range s.delta {
		out[n] = r.GetVersion()
	}
	for i := len(s.pending) - 1; i >= from; i-- {
		for n, v := range s.pending[i].was {
			if v == "" {
				delete(out, n)
			} else {
				out[n] = v
			}
		}
	}
	return out
}

// ackedIsCurrent reports whether ackedDelta holds exactly the current
// state.
func (s *served) ackedIsCurrent() bool {
	if len(s.ackedDelta) != len(s.delta) {
		return false
	}
	for n, v := range s.ackedDelta {
		if r, ok := s.delta[n]; !ok || r.GetVersion() != v {
			return false
		}
	}
	return true
}

// snapshot copies what is needed to answer a config query; it runs under
// the tracker's lock, so the expensive parts (names, hashes) wait for
// resolve.
func (s *served) snapshot(typeURL string) servedCopy {
	c := servedCopy{typeURL: typeURL, version: s.version, ackedVersion: s.ackedVersion, sotw: s.sotw, ackedSotw: s.ackedSotw}
	if s.delta != nil {
		c.delta = make([]*discovery.Resource, 0, len(s.delta))
		for _, r := range s.delta {
			c.delta = append(c.delta, r)
		}
	}
	if s.delta != nil {
		c.ackedDelta = s.ackedDeltaNow()
	}
	return c
}

type servedCopy struct {
	typeURL, version, ackedVersion string
	sotw, ackedSotw                held
	delta                          []*discovery.Resource
	ackedDelta                     map[string]string
}

// resolve names and versions every resource. A SotW resource's version is
// go-control-plane's hash of its bytes, which is what a delta client is
// told for the same resource.
func (c servedCopy) resolve() estatus.ServedType {
	out := estatus.ServedType{TypeURL: c.typeURL, Version: c.version, AckedVersion: c.ackedVersion, Resources: []estatus.ServedResource{}}
	if c.delta != nil {
		for _, r := range c.delta {
			out.Resources = append(out.Resources, estatus.ServedResource{Name: r.GetName(), Version: r.GetVersion(), Resource: r.GetResource()})
		}
		out.Acked = c.ackedDelta
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
