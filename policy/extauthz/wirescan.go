package extauthz

import (
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A cache hit is answered from the request's wire bytes, never decoded
// into a CheckRequest (wireRequest). That is only right for bytes the
// full path would take as the same request: scanWire accepts bytes only
// when proto.Unmarshal would decode them without error into a message
// InputValue builds an input of, and where no field is set twice, so the
// value of each field is the one occurrence of it in the bytes and not a
// merge of several. Anything else it does not model (a field set twice,
// an unknown field, a packed list, a google.protobuf.Struct or Any,
// which have JSON forms of their own) is refused, and such a request
// takes the full path, which decides it as before. Refusing is always
// safe; accepting is right only when both paths read the same request.

// wireKind is how the scan reads one field's value.
type wireKind uint8

const (
	wireRefused wireKind = iota // unknown, or not modelled: take the full path
	wireVarint
	wireFixed32
	wireFixed64
	wireString // checked to be UTF-8, as proto3 and protojson require
	wireBytes
	wireNested
	wireTimestamp // checked to be in protojson's range, as timestampValue does
	wireDuration  // likewise, as durationValue does
)

// wireType is the wire type a value of the kind is encoded with.
func (k wireKind) wireType() protowire.Type {
	switch k {
	case wireVarint:
		return protowire.VarintType
	case wireFixed32:
		return protowire.Fixed32Type
	case wireFixed64:
		return protowire.Fixed64Type
	}
	return protowire.BytesType
}

// wireField is one field of a wireSchema.
type wireField struct {
	kind     wireKind
	repeated bool // a list or a map: every occurrence counts
	oneof    int  // 1 + the index of its oneof; 0 for none
	msg      *wireSchema
}

// wireSchema is a message type as the scan reads it: its fields by
// number. Numbers of 64 and over are refused, so that the fields seen in
// one message fit one word.
type wireSchema struct{ fields []wireField }

// checkRequestSchema is the schema of a CheckRequest, made once.
var checkRequestSchema = newWireSchema((&authv3.CheckRequest{}).ProtoReflect().Descriptor(), map[protoreflect.FullName]*wireSchema{})

func newWireSchema(md protoreflect.MessageDescriptor, made map[protoreflect.FullName]*wireSchema) *wireSchema {
	if s := made[md.FullName()]; s != nil {
		return s
	}
	s := &wireSchema{}
	made[md.FullName()] = s
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		n := int(fd.Number())
		if n >= 64 {
			continue
		}
		if n >= len(s.fields) {
			s.fields = append(s.fields, make([]wireField, n+1-len(s.fields))...)
		}
		f := wireField{kind: kindOf(fd), repeated: fd.Cardinality() == protoreflect.Repeated}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			f.oneof = od.Index() + 1
		}
		if f.kind == wireNested {
			f.msg = newWireSchema(fd.Message(), made)
		}
		if f.oneof >= 64 {
			f.kind = wireRefused
		}
		s.fields[n] = f
	}
	return s
}

func kindOf(fd protoreflect.FieldDescriptor) wireKind {
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return wireVarint
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return wireFixed32
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return wireFixed64
	case protoreflect.StringKind:
		return wireString
	case protoreflect.BytesKind:
		return wireBytes
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return wireTimestamp
		case "google.protobuf.Duration":
			return wireDuration
		}
		if wellKnown(fd.Message().FullName()) != nil && !isWrapper(fd.Message().FullName()) {
			return wireRefused // Struct, Value, ListValue, Any, FieldMask
		}
		return wireNested
	}
	return wireRefused // groups
}

// isWrapper says whether a well-known type is a wrapper or Empty, whose
// values the scan checks as any message's.
func isWrapper(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.BoolValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.UInt32Value", "google.protobuf.UInt64Value", "google.protobuf.FloatValue",
		"google.protobuf.DoubleValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
		"google.protobuf.Empty":
		return true
	}
	return false
}

// scanWire says whether b is a CheckRequest the cache may read from its
// bytes (see above).
func scanWire(b []byte) bool { return scanMessage(checkRequestSchema, b) }

func scanMessage(s *wireSchema, b []byte) bool {
	var seen, oneofs uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || int(num) >= len(s.fields) {
			return false
		}
		b = b[n:]
		f := &s.fields[num]
		if f.kind == wireRefused || typ != f.kind.wireType() {
			return false
		}
		if !f.repeated {
			if seen&(1<<num) != 0 || (f.oneof > 0 && oneofs&(1<<f.oneof) != 0) {
				return false
			}
			seen |= 1 << num
			if f.oneof > 0 {
				oneofs |= 1 << f.oneof
			}
		}
		if n = scanValue(f, typ, b); n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// scanValue checks one value of f; it returns its length, or -1.
func scanValue(f *wireField, typ protowire.Type, b []byte) int {
	if typ != protowire.BytesType {
		return protowire.ConsumeFieldValue(0, typ, b)
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return -1
	}
	ok := true
	switch f.kind {
	case wireString:
		ok = utf8.Valid(v)
	case wireNested:
		ok = scanMessage(f.msg, v)
	case wireTimestamp:
		secs, nanos, read := secondsNanosWire(v)
		ok = read && secs >= minTimestamp && secs <= maxTimestamp && nanos >= 0 && nanos <= 999999999
	case wireDuration:
		secs, nanos, read := secondsNanosWire(v)
		ok = read && secs >= -maxDuration && secs <= maxDuration && nanos > -1e9 && nanos < 1e9 &&
			!(secs > 0 && nanos < 0) && !(secs < 0 && nanos > 0)
	}
	if !ok {
		return -1
	}
	return n
}

// secondsNanosWire reads a Timestamp's or Duration's two fields, each
// set at most once, as proto.Unmarshal would read them.
func secondsNanosWire(b []byte) (secs int64, nanos int32, ok bool) {
	var seen [3]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || (num != 1 && num != 2) || typ != protowire.VarintType || seen[num] {
			return 0, 0, false
		}
		seen[num] = true
		v, m := protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return 0, 0, false
		}
		if num == 1 {
			secs = int64(v)
		} else {
			nanos = int32(v)
		}
		b = b[n+m:]
	}
	return secs, nanos, true
}
