package wire

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/resource"
)

// A Workload spec crosses the wire unchanged, including the empty lists
// and maps a decoded resource leaves nil: a refresh of an unchanged
// registration must compare equal to the stored Workload.
func TestWorkloadSpecCrossesTheWireUnchanged(t *testing.T) {
	for name, spec := range map[string]resource.WorkloadSpec{
		"empty": {},
		"full": {
			Address:  "10.0.0.7",
			Services: []string{"web", "api"},
			Ports:    []resource.WorkloadPort{{Name: "http", Port: 8080, AppPort: 18080}, {Name: "grpc", Port: 9090}},
			Labels:   map[string]string{"version": "v1", "empty": ""},
			Locality: &resource.Locality{Region: "eu", Zone: "eu-1", SubZone: "rack-3"},

			ServiceAccount: "web",
			Weight:         3,
		},
		"locality without parts": {Address: "10.0.0.8", Locality: &resource.Locality{}},
	} {
		b, err := proto.Marshal(WorkloadSpecFrom(spec))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got WorkloadSpec
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if back := got.Resource(); !reflect.DeepEqual(back, spec) {
			t.Errorf("%s: sent %+v, received %+v", name, spec, back)
		}
	}
}

// FuzzWorkloadSpec decodes what an agent could send: whatever decodes
// converts to a resource and back to the same message, without panicking.
// Fields this version does not know (a newer agent's) are dropped.
func FuzzWorkloadSpec(f *testing.F) {
	for _, seed := range []*WorkloadSpec{
		{},
		{Address: "10.0.0.7", Services: []string{"web"}, Ports: []*WorkloadPort{{Name: "http", Port: 8080}}, Labels: map[string]string{"a": "b"}},
		{Locality: &Locality{Zone: "z"}, Ports: []*WorkloadPort{nil}},
	} {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in WorkloadSpec
		if err := proto.Unmarshal(data, &in); err != nil {
			return
		}
		dropUnknown(in.ProtoReflect())
		if out := WorkloadSpecFrom(in.Resource()); !proto.Equal(out, &in) {
			t.Fatalf("%v became %v", &in, out)
		}
	})
}

// dropUnknown clears the unknown fields of m and of the messages in it.
func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				dropUnknown(v.List().Get(i).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			dropUnknown(v.Message())
		}
		return true
	})
}

// An unset timestamp is the zero time, not the Unix epoch.
func TestTimeOfAnUnsetTimestampIsZero(t *testing.T) {
	if got := TimeOf(nil); !got.IsZero() {
		t.Fatalf("TimeOf(nil) = %v", got)
	}
	at := time.Date(2026, 12, 7, 16, 0, 0, 5, time.UTC)
	if got := TimeOf(timestamppb.New(at)); !got.Equal(at) {
		t.Fatalf("TimeOf(%v) = %v", at, got)
	}
}
