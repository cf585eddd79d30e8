package bench

import (
	"context"
	"fmt"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A simulated proxy reads each response as raw bytes and scans only the
// fields it needs (version, nonce, type, resource names and values),
// because decoding every DiscoveryResponse into messages would make the
// fleet, not the control plane, the bottleneck at thousands of streams.

// rawCodec marshals requests as protobuf and hands responses over as
// their undecoded bytes.
type rawCodec struct{}

// rawFrame is one received message, undecoded.
type rawFrame []byte

// Marshal encodes a request as protobuf.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal keeps a response's bytes undecoded.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*rawFrame)
	if !ok {
		return fmt.Errorf("raw codec: cannot decode into %T", v)
	}
	// Materialize copies out of gRPC's pooled buffers, which it reuses.
	*f = data.Materialize()
	return nil
}

// Name is "proto": on the wire the codec is plain protobuf.
func (rawCodec) Name() string { return "proto" }

// openADS opens an ADS stream whose responses arrive as rawFrames.
func openADS(ctx context.Context, conn *grpc.ClientConn, delta bool) (grpc.ClientStream, error) {
	desc := &discoveryv3.AggregatedDiscoveryService_ServiceDesc.Streams[0]
	method := discoveryv3.AggregatedDiscoveryService_StreamAggregatedResources_FullMethodName
	if delta {
		desc = &discoveryv3.AggregatedDiscoveryService_ServiceDesc.Streams[1]
		method = discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResources_FullMethodName
	}
	return conn.NewStream(ctx, desc, method, grpc.ForceCodecV2(rawCodec{}))
}

// wireResponse is what a proxy reads of a DiscoveryResponse or a
// DeltaDiscoveryResponse.
type wireResponse struct {
	version, typeURL, nonce string
	// names are the Delta resources' names (nil for SotW, whose names are
	// inside the resources).
	names []string
	// values are the resources' encoded bytes, sub-slices of the frame.
	values  [][]byte
	removed []string
}

// Field numbers of the responses, from envoy/service/discovery/v3.
const (
	fieldVersion   = 1 // version_info, system_version_info
	fieldResources = 2
	fieldTypeURL   = 4
	fieldNonce     = 5
	fieldRemoved   = 6 // Delta only

	anyTypeURL = 1
	anyValue   = 2

	deltaResName     = 3
	deltaResResource = 2
)

// parseSotW reads a DiscoveryResponse.
func parseSotW(b []byte) (wireResponse, error) {
	r, anys, err := scanResponse(b, false)
	if err != nil {
		return r, fmt.Errorf("DiscoveryResponse: %w", err)
	}
	r.values = make([][]byte, len(anys))
	for k, a := range anys {
		if r.values[k], err = anyValueOf(a, r.typeURL); err != nil {
			return r, fmt.Errorf("DiscoveryResponse resource #%d: %w", k, err)
		}
	}
	return r, nil
}

// scanResponse reads the fields both response kinds share and returns
// the undecoded resources. Only a Delta response's field 6 lists removed
// names: in a DiscoveryResponse it is the control_plane message.
func scanResponse(b []byte, delta bool) (wireResponse, [][]byte, error) {
	var r wireResponse
	var res [][]byte
	err := scanFields(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldVersion:
			r.version = string(v)
		case fieldTypeURL:
			r.typeURL = string(v)
		case fieldNonce:
			r.nonce = string(v)
		case fieldResources:
			res = append(res, v)
		case fieldRemoved:
			if delta {
				r.removed = append(r.removed, string(v))
			}
		}
		return nil
	})
	return r, res, err
}

// parseDelta reads a DeltaDiscoveryResponse.
func parseDelta(b []byte) (wireResponse, error) {
	r, res, err := scanResponse(b, true)
	if err != nil {
		return r, fmt.Errorf("DeltaDiscoveryResponse: %w", err)
	}
	r.names = make([]string, len(res))
	r.values = make([][]byte, len(res))
	for k, rb := range res {
		var a []byte
		err := scanFields(rb, func(num protowire.Number, v []byte) error {
			switch num {
			case deltaResName:
				r.names[k] = string(v)
			case deltaResResource:
				a = v
			}
			return nil
		})
		if err == nil && a != nil {
			r.values[k], err = anyValueOf(a, r.typeURL)
		}
		if err != nil {
			return r, fmt.Errorf("DeltaDiscoveryResponse resource #%d: %w", k, err)
		}
	}
	return r, nil
}

// anyValueOf returns the value of an encoded Any, checking that its type
// is the response's.
func anyValueOf(a []byte, typeURL string) ([]byte, error) {
	var t string
	var val []byte
	err := scanFields(a, func(num protowire.Number, v []byte) error {
		switch num {
		case anyTypeURL:
			t = string(v)
		case anyValue:
			val = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t != typeURL {
		return nil, fmt.Errorf("a %s response holds a %q", typeURL, t)
	}
	if val == nil {
		val = []byte{}
	}
	return val, nil
}

// scanFields calls fn with every length-delimited field of b; other wire
// types are skipped. A repeated field calls fn once per element.
func scanFields(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}
