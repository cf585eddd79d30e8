package translate

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// toAny packs a message with deterministic marshalling, so the same input
// always gives the same bytes and the xDS cache can compare versions by hash.
func toAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		// Marshalling a generated message only fails on invalid UTF-8 in a
		// string field; every string here was decoded by encoding/json,
		// which replaces invalid UTF-8, so this is a programming error.
		panic("translate: packing " + string(m.ProtoReflect().Descriptor().FullName()) + ": " + err.Error())
	}
	return a
}
