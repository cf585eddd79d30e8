package extauthz

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// protoValue is a message as OPA's value, shaped exactly as the document
// protojson.Marshal would write and a JSON decoder would read back (the
// OPA-Envoy plugin's input): lowerCamelCase names, only populated fields,
// 64-bit integers as strings, bytes as base64, enums by name, and the
// well-known types in their JSON forms. Building it directly skips the
// encode, the decode and the map conversion that a policy input cost
// before; where protojson would refuse a message (invalid UTF-8, a
// timestamp out of range, an Any of an unknown type) so does this.
func protoValue(m protoreflect.Message) (ast.Value, error) {
	if h, ok := m.Interface().(*authv3.AttributeContext_HttpRequest); ok {
		return httpRequestValue(h)
	}
	if wkt := wellKnown(m.Descriptor().FullName()); wkt != nil {
		return wkt(m)
	}
	obj := ast.NewObjectWithCapacity(m.Descriptor().Fields().Len())
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		var fv ast.Value
		if fv, err = fieldValue(fd, v); err != nil {
			err = fmt.Errorf("%s: %w", fd.FullName(), err)
			return false
		}
		obj.Insert(ast.StringTerm(jsonName(fd)), ast.NewTerm(fv))
		return true
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func jsonName(fd protoreflect.FieldDescriptor) string {
	if fd.IsExtension() {
		return "[" + string(fd.FullName()) + "]"
	}
	return fd.JSONName()
}

func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (ast.Value, error) {
	switch {
	case fd.IsList():
		l := v.List()
		arr := make([]*ast.Term, l.Len())
		for i := range arr {
			e, err := singular(fd, l.Get(i))
			if err != nil {
				return nil, err
			}
			arr[i] = ast.NewTerm(e)
		}
		return ast.NewArray(arr...), nil
	case fd.IsMap():
		obj := ast.NewObjectWithCapacity(v.Map().Len())
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			var e ast.Value
			if e, err = singular(fd.MapValue(), mv); err == nil {
				key := k.String()
				if !utf8.ValidString(key) {
					err = errors.New("map key is not valid UTF-8")
					return false
				}
				obj.Insert(ast.StringTerm(key), ast.NewTerm(e))
			}
			return err == nil
		})
		return obj, err
	}
	return singular(fd, v)
}

// singular is one value of a field, as protojson writes it.
func singular(fd protoreflect.FieldDescriptor, v protoreflect.Value) (ast.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return ast.Boolean(v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return ast.Number(strconv.FormatInt(v.Int(), 10)), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return ast.String(strconv.FormatInt(v.Int(), 10)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return ast.String(strconv.FormatUint(v.Uint(), 10)), nil
	case protoreflect.FloatKind:
		return float(v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return float(v.Float(), 64), nil
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			return nil, errNotUTF8
		}
		return ast.String(v.String()), nil
	case protoreflect.BytesKind:
		return ast.String(base64.StdEncoding.EncodeToString(v.Bytes())), nil
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return ast.Null{}, nil
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return ast.String(ev.Name()), nil
		}
		return ast.Number(strconv.FormatInt(int64(v.Enum()), 10)), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return protoValue(v.Message())
	}
	return nil, fmt.Errorf("field kind %v", fd.Kind())
}

// float is protojson's number form: NaN and the infinities as strings.
func float(f float64, bits int) ast.Value {
	switch {
	case math.IsNaN(f):
		return ast.String("NaN")
	case math.IsInf(f, 1):
		return ast.String("Infinity")
	case math.IsInf(f, -1):
		return ast.String("-Infinity")
	}
	return ast.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// wellKnown returns the builder of a well-known type with its own JSON
// form, or nil.
func wellKnown(name protoreflect.FullName) func(protoreflect.Message) (ast.Value, error) {
	switch name {
	case "google.protobuf.Timestamp":
		return timestampValue
	case "google.protobuf.Duration":
		return durationValue
	case "google.protobuf.Struct", "google.protobuf.ListValue":
		return func(m protoreflect.Message) (ast.Value, error) {
			return fieldValue(m.Descriptor().Fields().ByNumber(1), m.Get(m.Descriptor().Fields().ByNumber(1)))
		}
	case "google.protobuf.Value":
		return structValue
	case "google.protobuf.Any":
		return anyValue
	case "google.protobuf.FieldMask":
		return fieldMaskValue
	case "google.protobuf.BoolValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.UInt32Value", "google.protobuf.UInt64Value", "google.protobuf.FloatValue",
		"google.protobuf.DoubleValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return func(m protoreflect.Message) (ast.Value, error) {
			fd := m.Descriptor().Fields().ByNumber(1)
			return singular(fd, m.Get(fd))
		}
	case "google.protobuf.Empty":
		return func(protoreflect.Message) (ast.Value, error) { return ast.NewObject(), nil }
	}
	return nil
}

// Timestamp and Duration bounds, as protojson enforces them.
const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
	maxDuration  = 315576000000 // 10,000 years
)

func secondsNanos(m protoreflect.Message) (int64, int32) {
	fds := m.Descriptor().Fields()
	return m.Get(fds.ByNumber(1)).Int(), int32(m.Get(fds.ByNumber(2)).Int())
}

func timestampValue(m protoreflect.Message) (ast.Value, error) {
	secs, nanos := secondsNanos(m)
	if secs < minTimestamp || secs > maxTimestamp || nanos < 0 || nanos > 999999999 {
		return nil, fmt.Errorf("timestamp %d.%09d out of range", secs, nanos)
	}
	t := time.Unix(secs, int64(nanos)).UTC()
	return ast.String(t.Format("2006-01-02T15:04:05") + fraction(nanos) + "Z"), nil
}

func durationValue(m protoreflect.Message) (ast.Value, error) {
	secs, nanos := secondsNanos(m)
	if secs < -maxDuration || secs > maxDuration || nanos <= -1e9 || nanos >= 1e9 ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return nil, fmt.Errorf("duration %d.%09d out of range", secs, nanos)
	}
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	return ast.String(sign + strconv.FormatInt(secs, 10) + fraction(nanos) + "s"), nil
}

// fraction is nanoseconds as 0, 3, 6 or 9 digits after a point, as
// protojson writes them.
func fraction(nanos int32) string {
	if nanos == 0 {
		return ""
	}
	s := fmt.Sprintf(".%09d", nanos)
	for range 2 {
		if !strings.HasSuffix(s, "000") {
			break
		}
		s = s[:len(s)-3]
	}
	return s
}

func structValue(m protoreflect.Message) (ast.Value, error) {
	od := m.Descriptor().Oneofs().ByName("kind")
	fd := m.WhichOneof(od)
	if fd == nil {
		return nil, errors.New("google.protobuf.Value has no kind")
	}
	v := m.Get(fd)
	if fd.Kind() == protoreflect.DoubleKind && (math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0)) {
		return nil, fmt.Errorf("google.protobuf.Value number %v is not JSON", v.Float())
	}
	return singular(fd, v)
}

func anyValue(m protoreflect.Message) (ast.Value, error) {
	fds := m.Descriptor().Fields()
	typeURL, value := m.Get(fds.ByNumber(1)).String(), m.Get(fds.ByNumber(2)).Bytes()
	if typeURL == "" {
		if len(value) > 0 {
			return nil, errors.New("google.protobuf.Any has a value but no type_url")
		}
		return ast.NewObject(), nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		return nil, fmt.Errorf("google.protobuf.Any: unable to resolve %q: %v", typeURL, err)
	}
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(value, em.Interface()); err != nil {
		return nil, fmt.Errorf("google.protobuf.Any: unable to unmarshal %q: %v", typeURL, err)
	}
	inner, err := protoValue(em)
	if err != nil {
		return nil, err
	}
	typeTerm := [2]*ast.Term{ast.StringTerm("@type"), ast.StringTerm(typeURL)}
	if wellKnown(mt.Descriptor().FullName()) != nil {
		return ast.NewObject(typeTerm, [2]*ast.Term{ast.StringTerm("value"), ast.NewTerm(inner)}), nil
	}
	obj := inner.(ast.Object)
	obj.Insert(typeTerm[0], typeTerm[1])
	return obj, nil
}

func fieldMaskValue(m protoreflect.Message) (ast.Value, error) {
	l := m.Get(m.Descriptor().Fields().ByNumber(1)).List()
	paths := make([]string, l.Len())
	for i := range paths {
		p := l.Get(i).String()
		camel := snakeToCamel(p)
		if camel == "" || !utf8.ValidString(p) {
			return nil, fmt.Errorf("google.protobuf.FieldMask path %q has no JSON form", p)
		}
		paths[i] = camel
	}
	return ast.String(strings.Join(paths, ",")), nil
}

// snakeToCamel is protojson's FieldMask path conversion; "" when the path
// cannot round-trip (an upper-case letter, or "_" not before a letter).
func snakeToCamel(p string) string {
	var b strings.Builder
	after := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'A' && c <= 'Z':
			return ""
		case c == '_':
			if after || i+1 >= len(p) || p[i+1] < 'a' || p[i+1] > 'z' {
				return ""
			}
			after = true
			continue
		case after:
			c -= 'a' - 'A'
		}
		after = false
		b.WriteByte(c)
	}
	return b.String()
}
