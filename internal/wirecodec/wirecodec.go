// Package wirecodec is a gRPC server codec for messages that handle
// their own wire form: one that knows its encoding (or part of it) is sent
// as those bytes, one that reads itself is handed the received bytes, and
// every other message goes through gRPC's proto codec. A server uses it
// to send bytes it encoded once for many calls or streams, and to read
// only the fields it needs.
package wirecodec

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Encoder is a message that knows its wire form, or some of it: what it
// does not know, it encodes with proto, gRPC's proto codec.
type Encoder interface {
	EncodeWire(proto encoding.CodecV2) (mem.BufferSlice, error)
}

// Decoder is a message that reads itself from its wire form. It may keep
// data: gRPC does not reuse it.
type Decoder interface {
	DecodeWire(data mem.BufferSlice) error
}

// ServerOption makes a gRPC server use the codec for every message of
// every service it serves.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(New()) }

// New returns the codec.
func New() encoding.CodecV2 { return codec{encoding.GetCodecV2(grpcproto.Name)} }

// codec hands Encoders and Decoders their wire form and leaves anything
// else to proto.
type codec struct{ proto encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(Encoder); ok {
		return m.EncodeWire(c.proto)
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(Decoder); ok {
		return m.DecodeWire(data)
	}
	return c.proto.Unmarshal(data, v)
}

func (c codec) Name() string { return c.proto.Name() }
