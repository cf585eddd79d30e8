package server

import (
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
	// from; nil when the request was decoded whole. buf holds it, a
	// reference to gRPC's buffer until release.
	raw    []byte
	buf    mem.Buffer
	digest namesDigest
	// list is the names once decoded.
	list []string
}

// namesDigest identifies a list of names, in order: their number and a
// 64-bit hash of their encoding (each name's tag, length and bytes),
// seeded per process, so a peer cannot pick two lists that collide; two
// lists of one stream collide by chance once in 2^64.
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

// DecodeWire reads every field of the request but its names, which it only
// digests.
func (r *sotwRequest) DecodeWire(data mem.BufferSlice) (err error) {
	// Kept, not copied, until the stream is done with the request.
	r.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	b := r.buf.ReadOnlyData()
	var rest []byte
	var h maphash.Hash
	h.SetSeed(namesSeed)
	count := 0
	// The names come one after the other: each run of them is hashed in
	// one write.
	run := -1
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
			if run < 0 {
				run = i
			}
			count++
		} else {
			if run >= 0 {
				h.Write(b[run:i])
				run = -1
			}
			rest = append(rest, b[i:i+n+m]...)
		}
		i += n + m
	}
	if run >= 0 {
		h.Write(b[run:])
	}
	if err := proto.Unmarshal(rest, r.DiscoveryRequest); err != nil {
		return err
	}
	r.raw, r.digest = b, namesDigest{sum: h.Sum64(), count: count}
	return nil
}

// release gives back the buffer decode kept; the request's names can no
// longer be decoded.
func (r *sotwRequest) release() {
	if r.buf != nil {
		r.buf.Free()
		r.buf, r.raw = nil, nil
	}
}

// namesDigest returns the digest of the request's names.
func (r *sotwRequest) namesDigest() namesDigest {
	if r.raw != nil {
		return r.digest
	}
	var h maphash.Hash
	h.SetSeed(namesSeed)
	var b []byte
	for _, n := range r.GetResourceNames() {
		b = protowire.AppendString(protowire.AppendTag(b[:0], requestNames, protowire.BytesType), n)
		h.Write(b)
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
