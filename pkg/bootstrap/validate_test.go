package bootstrap_test

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// validateDeep runs ValidateAll on m and on every message packed in an Any
// anywhere inside it: a message's own ValidateAll does not look into Any
// fields, and Envoy rejects what is wrong inside them.
func validateDeep(t *testing.T, m proto.Message) {
	t.Helper()
	count := 0
	if err := walkValidate(m.ProtoReflect(), "", &count); err != nil {
		t.Fatal(err)
	}
	if count == 0 {
		t.Fatal("validated no message")
	}
}

type validator interface{ ValidateAll() error }

func walkValidate(m protoreflect.Message, path string, count *int) error {
	if v, ok := m.Interface().(validator); ok {
		*count++
		if err := v.ValidateAll(); err != nil {
			return &pathError{path, err}
		}
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			return &pathError{path, err}
		}
		return walkValidate(inner.ProtoReflect(), path+"("+a.GetTypeUrl()+")", count)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = walkValidate(l.Get(i).Message(), p, count)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				err = walkValidate(mv.Message(), p+"["+k.String()+"]", count)
				return err == nil
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			err = walkValidate(v.Message(), p, count)
		}
		return err == nil
	})
	return err
}

type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }

// TestValidateDeepLooksInsideAny proves the helper fails on a fault that
// only the packed message's own rules can see.
func TestValidateDeepLooksInsideAny(t *testing.T) {
	bad, err := anypb.New(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{MaxConcurrentStreams: wrapperspb.UInt32(0)},
				},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &clusterv3.Cluster{Name: "x", TypedExtensionProtocolOptions: map[string]*anypb.Any{"k": bad}}
	if err := c.ValidateAll(); err != nil {
		t.Fatalf("the outer message should look valid on its own: %v", err)
	}
	count := 0
	if err := walkValidate(c.ProtoReflect(), "", &count); err == nil {
		t.Fatal("walkValidate missed an invalid message inside an Any")
	}
}
