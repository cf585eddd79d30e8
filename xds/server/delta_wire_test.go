package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/internal/wirecodec"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// randomDelta is a DeltaDiscoveryResponse of n resources of random names,
// versions and sizes, some without a value, without a type, without an
// Any, or with aliases and a TTL, and random removed names, version and
// nonce.
func randomDelta(r *rand.Rand, n int) *discovery.DeltaDiscoveryResponse {
	types := []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}
	out := &discovery.DeltaDiscoveryResponse{TypeUrl: types[r.IntN(len(types))]}
	if r.IntN(4) > 0 {
		out.SystemVersionInfo = fmt.Sprintf("v%x", r.Uint64())
	}
	for i := range n {
		res := &discovery.Resource{Name: fmt.Sprintf("res-%d-%d", i, r.IntN(1000)), Version: fmt.Sprintf("%x", r.Uint64())}
		if r.IntN(6) > 0 {
			value := make([]byte, r.IntN(3)*r.IntN(70_000))
			for i := range value {
				value[i] = byte(r.Uint32())
			}
			res.Resource = &anypb.Any{Value: value}
			if r.IntN(6) > 0 {
				res.Resource.TypeUrl = out.TypeUrl
			}
		}
		if r.IntN(5) == 0 {
			res.Aliases = []string{"alias-" + res.Name}
			res.Ttl = durationpb.New(time.Duration(r.IntN(100)) * time.Second)
		}
		out.Resources = append(out.Resources, res)
	}
	for i := range r.IntN(3) {
		out.RemovedResources = append(out.RemovedResources, fmt.Sprintf("gone-%d", i))
	}
	if r.IntN(8) > 0 {
		out.Nonce = fmt.Sprint(r.Int64N(1 << 40))
	}
	return out
}

// A delta response sent as the stream's heads around the cache's shared
// values decodes to the response, over random sets of resources; a value
// goes out as the cache's bytes, not a copy.
func TestDeltaWireDecodesToTheResponse(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	codec := wirecodec.New()
	for i := range 300 {
		want := randomDelta(r, r.IntN(12))
		data, err := codec.Marshal(&deltaWire{want})
		if err != nil {
			t.Fatal(err)
		}
		var back discovery.DeltaDiscoveryResponse
		if err := proto.Unmarshal(data.Materialize(), &back); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !proto.Equal(&back, want) {
			t.Fatalf("case %d: decodes to %v, want %v", i, &back, want)
		}
		// A large value of a resource as the cache makes them (a name,
		// a version, an Any) goes out as the same bytes.
		for _, res := range want.Resources {
			v := res.GetResource().GetValue()
			if len(v) < sharedValue || len(res.GetAliases()) > 0 {
				continue
			}
			if !slices.ContainsFunc(data, func(buf mem.Buffer) bool { return &buf.ReadOnlyData()[0] == &v[0] }) {
				t.Fatalf("case %d: the value of %s was copied", i, res.GetName())
			}
		}
	}
}

// Over real sockets, one xDS server registered on a gRPC server with
// ServerOptions and on one without: twin delta proxies of one shape
// making the same requests through a random sequence of pushes receive
// the same responses from both, nonces included.
func TestDeltaStreamsReceiveWhatTheProtoCodecSends(t *testing.T) {
	tws := newTwinServers(t)
	fake, services, update := tws.fake, tws.services, tws.update
	wired := discovery.NewAggregatedDiscoveryServiceClient(tws.wired)
	plain := discovery.NewAggregatedDiscoveryServiceClient(tws.plain)
	r := rand.New(rand.NewPCG(7, 8))
	ctx, _ := streamContext(t)
	type twin struct {
		streams [2]discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
		eds     []string
		id, ns  string
	}
	// exchange sends req on both streams of tw and returns the response,
	// the same from both.
	exchange := func(tw *twin, req *discovery.DeltaDiscoveryRequest) *discovery.DeltaDiscoveryResponse {
		t.Helper()
		var got [2]*discovery.DeltaDiscoveryResponse
		for i, s := range tw.streams {
			req := proto.Clone(req).(*discovery.DeltaDiscoveryRequest)
			if req.Node != nil {
				// Two nodes of one shape, one per server.
				req.Node.Id = fmt.Sprintf("%s-%d.%s", tw.id, i, tw.ns)
			}
			if err := s.Send(req); err != nil {
				t.Fatal(err)
			}
			resp, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			got[i] = resp
		}
		if !proto.Equal(got[0], got[1]) {
			t.Fatalf("%s: with the wire codec %v, without %v", req.GetTypeUrl(), got[0], got[1])
		}
		return got[0]
	}
	var twins []*twin
	for i := range 4 {
		tw := &twin{eds: []string{"web"}, id: fmt.Sprintf("twin-%d", i), ns: []string{"default", "shop"}[i%2]}
		for _, n := range services[1:] {
			if r.IntN(2) == 0 {
				tw.eds = append(tw.eds, n)
			}
		}
		for j := range tw.streams {
			s, err := []discovery.AggregatedDiscoveryServiceClient{wired, plain}[j].DeltaAggregatedResources(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tw.streams[j] = s
		}
		twins = append(twins, tw)
		for k, typ := range fourTypes {
			req := &discovery.DeltaDiscoveryRequest{TypeUrl: typ}
			switch typ {
			case resourcev3.RouteType:
				req.ResourceNamesSubscribe = []string{"web"}
			case resourcev3.EndpointType:
				req.ResourceNamesSubscribe = tw.eds
			}
			if k == 0 {
				req.Node = cachetest.EnvoyNode("")
			}
			resp := exchange(tw, req)
			if typ != resourcev3.EndpointType {
				// Acked, so only endpoint changes are due below.
				for _, s := range tw.streams {
					if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	port := uint32(9000)
	last := map[*twin]string{}
	for range 20 {
		for _, n := range services[1:] {
			if r.IntN(3) == 0 {
				port++
				fake.SetPort(n, port)
			}
		}
		// Every twin subscribes to web, so every push has an answer for each.
		port++
		fake.SetPort("web", port)
		update()
		for _, tw := range twins {
			req := &discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResponseNonce: last[tw]}
			for _, n := range services {
				if !slices.Contains(tw.eds, n) && r.IntN(8) == 0 {
					// One more subscription, answered with the push.
					tw.eds = append(tw.eds, n)
					req.ResourceNamesSubscribe = append(req.ResourceNamesSubscribe, n)
				}
			}
			last[tw] = exchange(tw, req).GetNonce()
		}
	}
}
