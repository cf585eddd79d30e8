package server

import (
	"sort"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	estatus "embassy.dev/embassy/pkg/status"
)

// served is what one node holds of one type: the last sent state and the
// last acked one. SotW responses carry the whole state, so they are kept
// as sent and their resource versions hashed only when asked for; delta
// responses carry changes, which are summed into the current state and,
// once answered, into the acked state.
type served struct {
	version string
	// sotw is the last SotW response's resources (shared, never mutated).
	sotw []*anypb.Any
	// delta is the current state of a delta stream, by resource name.
	delta map[string]*discovery.Resource
	// pending are the delta responses not answered yet, oldest first.
	pending []deltaChange

	ackedVersion string
	ackedSotw    []*anypb.Any
	// ackedDelta is nil until the first delta ack.
	ackedDelta map[string]string
}

// deltaChange is one delta response's changes.
type deltaChange struct {
	nonce   string
	upserts map[string]string
	removed []string
}

// sentSotW records a SotW response.
func (s *served) sentSotW(version string, res []*anypb.Any) {
	s.version, s.sotw = version, res
}

// sentDelta applies a delta response to the current state and queues it
// for the answer.
func (s *served) sentDelta(nonce, version string, res []*discovery.Resource, removed []string) {
	if s.delta == nil {
		s.delta = map[string]*discovery.Resource{}
	}
	s.version = version
	ch := deltaChange{nonce: nonce, upserts: make(map[string]string, len(res)), removed: removed}
	for _, r := range res {
		s.delta[r.GetName()] = r
		ch.upserts[r.GetName()] = r.GetVersion()
	}
	for _, n := range removed {
		delete(s.delta, n)
	}
	s.pending = append(s.pending, ch)
}

// answered settles the response with nonce: an ack makes it (and every
// earlier unanswered delta response) the acked state; a nack drops it.
func (s *served) answered(nonce, version string, sotw []*anypb.Any, nacked bool) {
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
		for _, earlier := range s.pending[:i] {
			s.ackDelta(earlier)
		}
		if !nacked {
			s.ackDelta(ch)
			s.ackedVersion = version
		}
		s.pending = append([]deltaChange(nil), s.pending[i+1:]...)
		return
	}
}

func (s *served) ackDelta(ch deltaChange) {
	if s.ackedDelta == nil {
		s.ackedDelta = map[string]string{}
	}
	for n, v := range ch.upserts {
		s.ackedDelta[n] = v
	}
	for _, n := range ch.removed {
		delete(s.ackedDelta, n)
	}
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
	if s.ackedDelta != nil {
		c.ackedDelta = make(map[string]string, len(s.ackedDelta))
		for n, v := range s.ackedDelta {
			c.ackedDelta[n] = v
		}
	}
	return c
}

type servedCopy struct {
	typeURL, version, ackedVersion string
	sotw, ackedSotw                []*anypb.Any
	delta                          []*discovery.Resource
	ackedDelta                     map[string]string
}

// resolve names and versions every resource. A SotW resource's version is
// go-control-plane's hash of its bytes, which is what the cache's delta
// version map holds for the same resource.
func (c servedCopy) resolve() estatus.ServedType {
	out := estatus.ServedType{TypeURL: c.typeURL, Version: c.version, AckedVersion: c.ackedVersion, Resources: []estatus.ServedResource{}}
	if c.delta != nil {
		for _, r := range c.delta {
			out.Resources = append(out.Resources, estatus.ServedResource{Name: r.GetName(), Version: r.GetVersion(), Resource: r.GetResource()})
		}
		out.Acked = c.ackedDelta
	} else {
		out.Resources = sotwResources(c.sotw)
		if c.ackedSotw != nil || c.ackedVersion != "" {
			out.Acked = map[string]string{}
			for _, r := range sotwResources(c.ackedSotw) {
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
		name := ""
		if m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{}); err == nil {
			name = cachev3.GetResourceName(m)
		}
		out = append(out, estatus.ServedResource{Name: name, Version: cachev3.HashResource(a.GetValue()), Resource: a})
	}
	return out
}
