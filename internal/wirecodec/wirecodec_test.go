package wirecodec

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// raw is a message that is its bytes.
type raw struct{ b []byte }

func (r *raw) EncodeWire(encoding.CodecV2) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(r.b)}, nil
}

func (r *raw) DecodeWire(data mem.BufferSlice) error {
	r.b = data.Materialize()
	return nil
}

// An Encoder is sent as the bytes it gives, a Decoder is handed what was
// received, and any other message is the proto codec's.
func TestCodecPassesWireFormsAndProtoTheRest(t *testing.T) {
	c := New()
	msg := wrapperspb.String("hello")
	want, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Marshal(&raw{b: want})
	if err != nil || !bytes.Equal(got.Materialize(), want) {
		t.Fatalf("an Encoder was sent %q (%v), want its own bytes %q", got.Materialize(), err, want)
	}
	plain, err := c.Marshal(msg)
	if err != nil || !bytes.Equal(plain.Materialize(), want) {
		t.Fatalf("a proto message was sent %q (%v), want its proto encoding %q", plain.Materialize(), err, want)
	}
	var r raw
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, &r); err != nil || !bytes.Equal(r.b, want) {
		t.Fatalf("a Decoder read %q (%v), want the bytes received %q", r.b, err, want)
	}
	back := &wrapperspb.StringValue{}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, back); err != nil || back.GetValue() != "hello" {
		t.Fatalf("a proto message decoded to %v (%v), want hello", back, err)
	}
	if c.Name() != "proto" {
		t.Errorf("codec name %q, want proto: clients send that content-subtype", c.Name())
	}
}
