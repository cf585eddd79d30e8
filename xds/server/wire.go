package server

import (
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"embassy.dev/embassy/xds/cache"
)

// ServerOptions are the options of the gRPC server the services are
// registered on (Register): its codec sends a response whose encoding
// proxies share as those shared bytes, where gRPC's proto codec would
// encode it again for every stream (a route change sends each of
// hundreds of proxies the same RouteConfiguration). Every other message,
// of these services or any other on the server, goes through gRPC's
// proto codec. On a server built without them the responses are still
// the same, encoded per stream.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(wireCodec{encoding.GetCodecV2(grpcproto.Name)})}
}

// wireCodec sends a preEncoded message as its wire form, and encodes and
// decodes anything else with codec, gRPC's proto codec.
type wireCodec struct{ codec encoding.CodecV2 }

// preEncoded is a message that knows its wire form.
type preEncoded interface{ wire() mem.BufferSlice }

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(preEncoded); ok {
		return m.wire(), nil
	}
	return c.codec.Marshal(v)
}

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.codec.Unmarshal(data, v) }

func (c wireCodec) Name() string { return c.codec.Name() }

// sotwWire is a DiscoveryResponse whose encoding without a nonce is
// shared by every stream the same answer goes to; each stream adds its
// nonce as a field of its own, after the others, which is also where
// proto.Marshal puts it. It is the response too, so the tracker reads it
// and a proto codec would send it the same.
type sotwWire struct {
	*discovery.DiscoveryResponse
	body *cache.Encoded
}

func (m *sotwWire) wire() mem.BufferSlice {
	return mem.BufferSlice{mem.SliceBuffer(m.body.Bytes), mem.SliceBuffer(nonceField(sotwNonce, m.GetNonce()))}
}

// The nonce fields' numbers, read from the messages' descriptors.
var (
	sotwNonce  = fieldNumber(&discovery.DiscoveryResponse{}, "nonce")
	deltaNonce = fieldNumber(&discovery.DeltaDiscoveryResponse{}, "nonce")
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
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), nonce)
}

// encodeSotw encodes a response as gRPC's proto codec does.
func encodeSotw(resp *discovery.DiscoveryResponse) ([]byte, error) { return proto.Marshal(resp) }
