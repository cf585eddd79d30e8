package extauthz

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/policy/engine"
)

// wireAnswer is a cached decision's CheckResponse, encoded once when it
// is cached, so that a hit sends bytes instead of building and marshalling
// a response. Only the decision id differs between two answers of one
// decision; it is the last entry of the dynamic metadata, the last field,
// and is appended per call.
type wireAnswer struct {
	head []byte // the response without its dynamic metadata
	meta []byte // the metadata's entries other than decision_id
}

// Field numbers of the dynamic metadata's decision_id entry: a
// CheckResponse's dynamic_metadata, a Struct's fields (map entries of
// key 1 and value 2), a Value's string_value.
var (
	numDynamicMetadata = fieldNumber(&authv3.CheckResponse{}, "dynamic_metadata")
)

const (
	numStructFields      = 1
	numMapKey, numMapVal = 1, 2
	numStringValue       = 3
)

// newWireAnswer encodes d's response; nil when it does not encode, for
// the full path to answer with its error.
func newWireAnswer(d engine.Decision) *wireAnswer {
	resp := response(d, "")
	meta := resp.DynamicMetadata
	delete(meta.Fields, "decision_id")
	resp.DynamicMetadata = nil
	head, err := proto.Marshal(resp)
	if err != nil {
		return nil
	}
	entries, err := proto.Marshal(meta)
	if err != nil {
		return nil
	}
	return &wireAnswer{head: head, meta: entries}
}

// append appends the response with decision id to b.
func (a *wireAnswer) append(b []byte, id string) []byte {
	value := protowire.SizeTag(numStringValue) + protowire.SizeBytes(len(id))
	entry := protowire.SizeTag(numMapKey) + protowire.SizeBytes(len("decision_id")) +
		protowire.SizeTag(numMapVal) + protowire.SizeBytes(value)
	meta := len(a.meta) + protowire.SizeTag(numStructFields) + protowire.SizeBytes(entry)

	b = append(b, a.head...)
	b = protowire.AppendTag(b, numDynamicMetadata, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(meta))
	b = append(b, a.meta...)
	b = protowire.AppendTag(b, numStructFields, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(entry))
	b = protowire.AppendTag(b, numMapKey, protowire.BytesType)
	b = protowire.AppendString(b, "decision_id")
	b = protowire.AppendTag(b, numMapVal, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(value))
	b = protowire.AppendTag(b, numStringValue, protowire.BytesType)
	return protowire.AppendString(b, id)
}

// size is the length of the response append writes for an id of n bytes.
func (a *wireAnswer) size(n int) int { return len(a.head) + len(a.meta) + 64 + n }
