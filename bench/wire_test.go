package bench

import (
	"bytes"
	"slices"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func claAny(t testing.TB, name string) *anypb.Any {
	a, err := anypb.New(&endpointv3.ClusterLoadAssignment{ClusterName: name})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func seedResponses(f *testing.F) {
	sotw := &discoveryv3.DiscoveryResponse{VersionInfo: "v1", TypeUrl: TypeEndpoints, Nonce: "n1", Canary: true,
		Resources: []*anypb.Any{claAny(f, "a"), claAny(f, "b")}}
	delta := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: "v2", TypeUrl: TypeEndpoints, Nonce: "n2",
		Resources:        []*discoveryv3.Resource{{Name: "a", Version: "h", Resource: claAny(f, "a")}},
		RemovedResources: []string{"b"}}
	for _, m := range []proto.Message{sotw, delta, &discoveryv3.DiscoveryResponse{}} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x05, 0x0a, 0x01})
}

// FuzzParseSotW checks the scan of a DiscoveryResponse against the
// protobuf decoder: it never panics, and whatever protobuf decodes (with
// resources all of the response's type) it reads the same.
func FuzzParseSotW(f *testing.F) {
	seedResponses(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseSotW(b)
		var want discoveryv3.DiscoveryResponse
		if proto.Unmarshal(b, &want) != nil {
			return
		}
		for _, a := range want.GetResources() {
			if a.GetTypeUrl() != want.GetTypeUrl() {
				if err == nil {
					t.Fatalf("no error for a %s resource in a %s response", a.GetTypeUrl(), want.GetTypeUrl())
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("protobuf decodes it, the scan fails: %v", err)
		}
		if got.version != want.GetVersionInfo() || got.nonce != want.GetNonce() || got.typeURL != want.GetTypeUrl() {
			t.Fatalf("read %q %q %q, want %q %q %q", got.version, got.nonce, got.typeURL, want.GetVersionInfo(), want.GetNonce(), want.GetTypeUrl())
		}
		if len(got.values) != len(want.GetResources()) {
			t.Fatalf("read %d resources, want %d", len(got.values), len(want.GetResources()))
		}
		for k, a := range want.GetResources() {
			if !bytes.Equal(got.values[k], a.GetValue()) {
				t.Fatalf("resource #%d differs", k)
			}
		}
	})
}

// FuzzParseDelta is FuzzParseSotW for a DeltaDiscoveryResponse.
func FuzzParseDelta(f *testing.F) {
	seedResponses(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseDelta(b)
		var want discoveryv3.DeltaDiscoveryResponse
		if proto.Unmarshal(b, &want) != nil {
			return
		}
		for _, r := range want.GetResources() {
			if r.GetResource() != nil && r.GetResource().GetTypeUrl() != want.GetTypeUrl() {
				if err == nil {
					t.Fatalf("no error for a %s resource in a %s response", r.GetResource().GetTypeUrl(), want.GetTypeUrl())
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("protobuf decodes it, the scan fails: %v", err)
		}
		if got.version != want.GetSystemVersionInfo() || got.nonce != want.GetNonce() || got.typeURL != want.GetTypeUrl() ||
			!slices.Equal(got.removed, want.GetRemovedResources()) {
			t.Fatalf("read %+v, want %v", got, &want)
		}
		if len(got.values) != len(want.GetResources()) {
			t.Fatalf("read %d resources, want %d", len(got.values), len(want.GetResources()))
		}
		for k, r := range want.GetResources() {
			if got.names[k] != r.GetName() || !bytes.Equal(got.values[k], r.GetResource().GetValue()) {
				t.Fatalf("resource #%d: read %q, want %q", k, got.names[k], r.GetName())
			}
		}
	})
}
