package validate

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxDepth bounds the walk. Envoy configuration nests a few dozen levels at
// most; anything deeper is malformed, not configuration.
const maxDepth = 64

// validatable is implemented by every message generated with
// protoc-gen-validate.
type validatable interface{ ValidateAll() error }

// walker visits every message of a resource, unpacking Anys, and records
// the problems it finds.
type walker struct {
	// visit is called on every message reached, the root included, with a
	// path for error messages.
	visit func(path string, m proto.Message)
	// unpacked says Anys are only unpacked, not validated: Walk's callers
	// check something else.
	unpacked bool
	errs     []error
}

// Walk calls visit on m and every message inside it, Anys unpacked, with a
// path from root (such as "Listener x.filter_chains[0].filters[0]"). It
// returns the Anys it could not unpack. Other checkers of a served set use
// it so that every one of them sees what is packed inside Anys.
func Walk(root string, m proto.Message, visit func(path string, m proto.Message)) []error {
	w := &walker{visit: visit, unpacked: true}
	w.walk(root, m.ProtoReflect(), 0)
	return w.errs
}

// validate checks m and everything packed inside it.
func (w *walker) validate(path string, m proto.Message) {
	w.check(path, m)
	w.walk(path, m.ProtoReflect(), 0)
}

// check runs ValidateAll on a message that has it.
func (w *walker) check(path string, m proto.Message) {
	if w.unpacked {
		return
	}
	if v, ok := m.(validatable); ok {
		if err := v.ValidateAll(); err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
		}
	}
}

// walk visits m and descends into its populated message fields. An Any is
// unpacked and validated as a resource of its own, since ValidateAll of the
// enclosing message stops at it.
func (w *walker) walk(path string, m protoreflect.Message, depth int) {
	if depth > maxDepth {
		w.errs = append(w.errs, fmt.Errorf("%s: nested deeper than %d messages", path, maxDepth))
		return
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: cannot unpack %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		path += "(" + string(inner.ProtoReflect().Descriptor().FullName()) + ")"
		w.check(path, inner)
		w.walk(path, inner.ProtoReflect(), depth+1)
		return
	}
	if w.visit != nil {
		w.visit(path, m.Interface())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				w.walk(fmt.Sprintf("%s[%d]", name, i), l.Get(i).Message(), depth+1)
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			// Map order is random; sort keys so errors come out the same
			// way every time.
			mp := v.Map()
			var keys []protoreflect.MapKey
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				w.walk(fmt.Sprintf("%s[%q]", name, k.String()), mp.Get(k).Message(), depth+1)
			}
		default:
			w.walk(name, v.Message(), depth+1)
		}
		return true
	})
}
