package server

import (
	"fmt"
	"math/rand/v2"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/internal/wirecodec"
)

// randomRequest is a DiscoveryRequest with random fields, its names
// among a few so that lists repeat.
func randomRequest(r *rand.Rand) *discovery.DiscoveryRequest {
	req := &discovery.DiscoveryRequest{TypeUrl: fmt.Sprintf("type-%d", r.IntN(3)), VersionInfo: fmt.Sprint(r.IntN(5)), ResponseNonce: fmt.Sprint(r.IntN(5))}
	if r.IntN(3) == 0 {
		req.Node = &core.Node{Id: fmt.Sprintf("n%d.default", r.IntN(3)), UserAgentName: "envoy"}
	}
	if r.IntN(5) == 0 {
		req.ErrorDetail = &rpcstatus.Status{Code: 3, Message: "rejected ✗"}
	}
	pool := []string{"", "*", "a", "ab", "b", "c", "bc", "svc-1.default", "ünïcode"}
	for range r.IntN(6) {
		req.ResourceNames = append(req.ResourceNames, pool[r.IntN(len(pool))])
	}
	return req
}

// The wire codec reads a request as proto.Unmarshal does, the names
// aside, which it digests without decoding; decoded, they are the
// request's. Two requests' digests are equal when their names are, in
// order, and the digest of a request decoded whole is the same.
func TestSotwRequestDigestsItsNames(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	codec := wirecodec.New()
	seen := map[namesDigest]string{}
	for i := range 2000 {
		want := randomRequest(r)
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := newSotwRequest()
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
			t.Fatal(err)
		}
		if got.list != nil || len(got.ResourceNames) != 0 {
			t.Fatalf("case %d: the codec decoded the names", i)
		}
		names, err := got.names()
		if err != nil {
			t.Fatal(err)
		}
		whole := proto.Clone(got.DiscoveryRequest).(*discovery.DiscoveryRequest)
		whole.ResourceNames = names
		if !proto.Equal(whole, want) {
			t.Fatalf("case %d: read %v, want %v", i, whole, want)
		}
		plain := newSotwRequest()
		if err := protoCodec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, plain); err != nil {
			t.Fatal(err)
		}
		if plain.namesDigest() != got.namesDigest() {
			t.Fatalf("case %d: a request decoded whole digests its names otherwise", i)
		}
		list := fmt.Sprintf("%q", want.GetResourceNames())
		if other, ok := seen[got.namesDigest()]; ok && other != list {
			t.Fatalf("case %d: %s and %s have one digest", i, list, other)
		}
		seen[got.namesDigest()] = list
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct lists", len(seen))
	}
}

// A name that is not UTF-8 is refused when the names are decoded, as
// proto.Unmarshal refuses it.
func TestSotwRequestRefusesANameThatIsNotUTF8(t *testing.T) {
	b := protowire.AppendString(protowire.AppendTag(nil, 4, protowire.BytesType), "type")
	b = protowire.AppendBytes(protowire.AppendTag(b, requestNames, protowire.BytesType), []byte{0xff, 'x'})
	req := newSotwRequest()
	if err := (wirecodec.New()).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, req); err != nil {
		t.Fatal(err)
	}
	if _, err := req.names(); err == nil {
		t.Fatal("a name that is not UTF-8 was taken")
	}
	if err := proto.Unmarshal(b, &discovery.DiscoveryRequest{}); err == nil {
		t.Fatal("proto.Unmarshal takes it too: the test's encoding is wrong")
	}
}
