package server

import (
	"slices"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/wirecodec"
	"embassy.dev/embassy/xds/cache"
)

// ServerOptions are the options of the gRPC server the services are
// registered on (Register): its codec sends a response whose encoding
// proxies share as those shared bytes, where gRPC's proto codec would
// encode it again for every stream (a route change sends each of
// hundreds of proxies the same RouteConfiguration), and reads a SotW
// request's resource names only when they changed (sotwRequest). Every
// other message, of these services or any other on the server, goes
// through gRPC's proto codec. On a server built without them the
// responses are the same, encoded per stream, and requests are decoded
// whole.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{wirecodec.ServerOption()}
}

// sotwWire is a DiscoveryResponse whose encoding without a nonce is
// shared by every stream the same answer goes to; each stream adds its
// nonce as a field of its own, after the others, which is also where
// proto.Marshal puts it. It is the response too, so the tracker reads it
// and a proto codec would send it the same.
type sotwWire struct {
	*discovery.DiscoveryResponse
	body *cache.Encoded
}

func (m *sotwWire) EncodeWire(encoding.CodecV2) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(m.body.Bytes), mem.SliceBuffer(nonceField(sotwNonce, m.GetNonce()))}, nil
}

// The numbers of the fields the codec writes, read from the messages'
// descriptors.
var (
	sotwNonce       = fieldNumber(&discovery.DiscoveryResponse{}, "nonce")
	deltaResources  = fieldNumber(&discovery.DeltaDiscoveryResponse{}, "resources")
	resourceAny     = fieldNumber(&discovery.Resource{}, "resource")
	resourceName    = fieldNumber(&discovery.Resource{}, "name")
	resourceVersion = fieldNumber(&discovery.Resource{}, "version")
	anyType         = fieldNumber(&anypb.Any{}, "type_url")
	anyValue        = fieldNumber(&anypb.Any{}, "value")
)

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}

// nonceField is the encoding of a nonce as field num; empty for none, as
// proto3 leaves an empty string out.
func nonceField(num protowire.Number, nonce string) []byte {
	if nonce == "" {
		return nil
	}
	b := make([]byte, 0, 2+len(nonce))
	return appendString(b, num, nonce)
}

// encodeSotw encodes a response as gRPC's proto codec does.
func encodeSotw(resp *discovery.DiscoveryResponse) ([]byte, error) { return proto.Marshal(resp) }

// deltaWire is a DeltaDiscoveryResponse sent without encoding its large
// resources' contents again: each such resource's Any value, encoded
// once by the cache and shared by every stream sent it, goes out as those
// bytes, behind a few bytes of the stream's own (the response's other
// fields, each resource's name and version, the Any's type). A response
// without any (load assignments, clusters) is encoded as gRPC does: that
// costs no more. It is the response too, so the tracker reads it and a
// proto codec would send it the same.
type deltaWire struct {
	*discovery.DeltaDiscoveryResponse
}

// sharedValue is the size from which a resource's value goes out as the
// cache's bytes: a smaller one costs less copied than as a buffer of its
// own.
const sharedValue = 1 << 10

func (m *deltaWire) EncodeWire(codec encoding.CodecV2) (mem.BufferSlice, error) {
	large := slices.ContainsFunc(m.Resources, func(res *discovery.Resource) bool {
		return len(res.GetResource().GetValue()) >= sharedValue
	})
	if !large {
		return codec.Marshal(m.DeltaDiscoveryResponse)
	}
	// Every field but the resources, nonce included, then each resource:
	// fields may come in any order, and the resources keep theirs.
	b, err := proto.Marshal(without(m.DeltaDiscoveryResponse, deltaResources))
	if err != nil {
		return nil, err
	}
	var out mem.BufferSlice
	start := 0
	for _, res := range m.Resources {
		var value []byte
		if len(res.GetResource().GetValue()) >= sharedValue {
			b, value = appendShared(b, res)
		}
		if value == nil {
			if b, err = appendWhole(b, res); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, mem.SliceBuffer(b[start:len(b):len(b)]), mem.SliceBuffer(value))
		start = len(b)
	}
	if start < len(b) {
		out = append(out, mem.SliceBuffer(b[start:]))
	}
	return out, nil
}

// appendWhole appends res to b as an entry of a DeltaDiscoveryResponse's
// resources.
func appendWhole(b []byte, res *discovery.Resource) ([]byte, error) {
	b = protowire.AppendTag(b, deltaResources, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(proto.Size(res)))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, res)
}

// appendShared appends res to b as appendWhole does, but for its Any's
// value, which it returns: the entry ends with it. A resource with more
// than a name, a version and an Any of a type and a value, which the
// cache's never have, is not appended: the value returned is nil.
func appendShared(b []byte, res *discovery.Resource) ([]byte, []byte) {
	a := res.GetResource()
	value := a.GetValue()
	anyLen := stringSize(anyType, a.GetTypeUrl()) + protowire.SizeTag(anyValue) + protowire.SizeBytes(len(value))
	entryLen := stringSize(resourceVersion, res.GetVersion()) + stringSize(resourceName, res.GetName()) +
		protowire.SizeTag(resourceAny) + protowire.SizeBytes(anyLen)
	// Any other field, or unknown bytes, would make the sizes differ.
	if len(value) == 0 || proto.Size(res) != entryLen {
		return b, nil
	}
	b = protowire.AppendTag(b, deltaResources, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(entryLen))
	b = appendString(b, resourceVersion, res.GetVersion())
	b = appendString(b, resourceName, res.GetName())
	b = protowire.AppendTag(b, resourceAny, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(anyLen))
	b = appendString(b, anyType, a.GetTypeUrl())
	b = protowire.AppendTag(b, anyValue, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(len(value))), value
}

// stringSize is the size of string field num holding s; proto3 leaves
// an empty one out.
func stringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

// appendString appends string field num holding s, unless it is empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// without returns a shallow copy of m without field num: the copy shares
// m's values, which nobody changes.
func without[M proto.Message](m M, num protowire.Number) M {
	src := m.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Number() != num {
			dst.Set(fd, v)
		}
		return true
	})
	dst.SetUnknown(src.GetUnknown())
	return dst.Interface().(M)
}
