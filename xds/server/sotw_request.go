package server

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"unicode/utf8"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// sotwRequest is a DiscoveryRequest as a SotW stream reads it. A SotW
// proxy repeats every name it subscribes to in each request, ACKs
// included: a thousand names, each a string to allocate and check, in
// every ACK of every proxy after every push. The wire codec decodes the
// rest of the request and only a digest of the names (digest), and the
// stream decodes them (names) only when the digest differs from the one
// of the names it holds. On a server without the codec the message is
// decoded whole, names included.
type sotwRequest struct {
	*discovery.DiscoveryRequest
	// raw is the encoding the codec read, which names decodes the names
	// from; nil when the request was decoded whole.
	raw    []byte
	digest namesDigest
	// list is the names once decoded.
	list []string
}

// namesDigest identifies a list of names, in order: their number and a
// hash of their bytes, seeded per process so that a peer cannot make two
// lists collide.
type namesDigest struct {
	sum   uint64
	count int
}

var (
	namesSeed    = maphash.MakeSeed()
	requestNames = fieldNumber(&discovery.DiscoveryRequest{}, "resource_names")
)

func newSotwRequest() *sotwRequest {
	return &sotwRequest{DiscoveryRequest: &discovery.DiscoveryRequest{}}
}

// preDecoded is a message that decodes itself.
type preDecoded interface {
	decode(data mem.BufferSlice) error
}

// decode reads every field of the request but its names, which it only
// digests.
func (r *sotwRequest) decode(data mem.BufferSlice) error {
	b := data.Materialize()
	var rest []byte
	var h maphash.Hash
	h.SetSeed(namesSeed)
	count := 0
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if num == requestNames && typ == protowire.BytesType {
			name, _ := protowire.ConsumeBytes(b[i+n:])
			digestName(&h, name)
			count++
		} else {
			rest = append(rest, b[i:i+n+m]...)
		}
		i += n + m
	}
	if err := proto.Unmarshal(rest, r.DiscoveryRequest); err != nil {
		return err
	}
	r.raw, r.digest = b, namesDigest{sum: h.Sum64(), count: count}
	return nil
}

// digestName adds a name to a digest; its length first, so that the
// boundaries between names count.
func digestName(h *maphash.Hash, name []byte) {
	var l [binary.MaxVarintLen64]byte
	h.Write(protowire.AppendVarint(l[:0], uint64(len(name))))
	h.Write(name)
}

// namesDigest returns the digest of the request's names.
func (r *sotwRequest) namesDigest() namesDigest {
	if r.raw != nil {
		return r.digest
	}
	var h maphash.Hash
	h.SetSeed(namesSeed)
	for _, n := range r.GetResourceNames() {
		digestName(&h, []byte(n))
	}
	return namesDigest{sum: h.Sum64(), count: len(r.GetResourceNames())}
}

// names decodes the request's names; an error says one is not UTF-8, as
// proto.Unmarshal would.
func (r *sotwRequest) names() ([]string, error) {
	if r.raw == nil {
		return r.GetResourceNames(), nil
	}
	if r.list != nil {
		return r.list, nil
	}
	out := make([]string, 0, r.digest.count)
	b := r.raw
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if num == requestNames && typ == protowire.BytesType {
			name, _ := protowire.ConsumeBytes(b[i+n:])
			if !utf8.Valid(name) {
				return nil, fmt.Errorf("resource name %q is not valid UTF-8", name)
			}
			out = append(out, string(name))
		}
		i += n + m
	}
	r.list = out
	return out, nil
}
