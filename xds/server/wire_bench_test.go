package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/wirecodec"
	"embassy.dev/embassy/xds/cache"
)

// benchStreams is how many streams a benchmark answer goes to, as in
// embassy-bench's default fleet.
const benchStreams = 500

// anyOf is an Any of size random bytes.
func anyOf(r *rand.Rand, typ string, size int) *anypb.Any {
	v := make([]byte, size)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return &anypb.Any{TypeUrl: typ, Value: v}
}

// One push's cost of sending benchStreams streams one shared answer (a
// RouteConfiguration of 116 KiB, as embassy-bench's route change sends;
// or a first answer of 1,000 load assignments of 300 B): as gRPC's proto
// codec sends it (proto) and as the wire codec does (wire), each stream
// setting its nonce and its buffers freed as gRPC frees them once
// written. Compare with benchstat over -count 5.
func BenchmarkAnswerSharedSotW(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		name      string
		resources []*anypb.Any
	}{
		{"route-116KiB", []*anypb.Any{anyOf(r, resourcev3.RouteType, 116<<10)}},
		{"endpoints-1000x300B", func() (out []*anypb.Any) {
			for range 1000 {
				out = append(out, anyOf(r, resourcev3.EndpointType, 300))
			}
			return out
		}()},
	} {
		shared := &discovery.DiscoveryResponse{VersionInfo: "v2", TypeUrl: c.resources[0].TypeUrl, Resources: c.resources}
		b.Run(c.name+"/proto", func(b *testing.B) {
			send := sender(b)
			for b.Loop() {
				for i := range benchStreams {
					out := &discovery.DiscoveryResponse{VersionInfo: shared.VersionInfo, TypeUrl: shared.TypeUrl, Resources: shared.Resources, Nonce: strconv.Itoa(i)}
					send(protoCodec.Marshal(out))
				}
			}
		})
		b.Run(c.name+"/wire", func(b *testing.B) {
			codec, send := wirecodec.New(), sender(b)
			for b.Loop() {
				// Each push makes a new answer, encoded once.
				body, err := encodeSotw(shared)
				if err != nil {
					b.Fatal(err)
				}
				enc := &cache.Encoded{Bytes: body}
				for i := range benchStreams {
					out := &discovery.DiscoveryResponse{VersionInfo: shared.VersionInfo, TypeUrl: shared.TypeUrl, Resources: shared.Resources, Nonce: strconv.Itoa(i)}
					send(codec.Marshal(&sotwWire{DiscoveryResponse: out, body: enc}))
				}
			}
		})
	}
}

// The same for delta streams: each resource's Any shared, the response
// of each stream its own.
func BenchmarkAnswerSharedDelta(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		name      string
		resources []*discovery.Resource
	}{
		{"route-116KiB", []*discovery.Resource{{Name: "outbound", Version: "abc", Resource: anyOf(r, resourcev3.RouteType, 116<<10)}}},
		{"endpoints-1000x300B", func() (out []*discovery.Resource) {
			for i := range 1000 {
				out = append(out, &discovery.Resource{Name: fmt.Sprintf("svc-%d.default", i), Version: fmt.Sprintf("%064x", i), Resource: anyOf(r, resourcev3.EndpointType, 300)})
			}
			return out
		}()},
	} {
		for _, codec := range []struct {
			name string
			wrap func(*discovery.DeltaDiscoveryResponse) any
		}{
			{"proto", func(m *discovery.DeltaDiscoveryResponse) any { return m }},
			{"wire", func(m *discovery.DeltaDiscoveryResponse) any { return &deltaWire{m} }},
		} {
			b.Run(c.name+"/"+codec.name, func(b *testing.B) {
				wc := wirecodec.New()
				send := sender(b)
				for b.Loop() {
					for i := range benchStreams {
						out := &discovery.DeltaDiscoveryResponse{SystemVersionInfo: "v2", TypeUrl: resourcev3.RouteType, Resources: c.resources, Nonce: strconv.Itoa(i)}
						send(wc.Marshal(codec.wrap(out)))
					}
				}
			})
		}
	}
}

// sender stands for gRPC's transport: it reads the length of what a
// codec gives and frees the buffers, as gRPC does once they are written.
func sender(b *testing.B) func(mem.BufferSlice, error) {
	return func(data mem.BufferSlice, err error) {
		if err != nil {
			b.Fatal(err)
		}
		_ = data.Len()
		data.Free()
	}
}
