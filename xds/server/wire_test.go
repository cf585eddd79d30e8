package server

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/wirecodec"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/cache"
	"embassy.dev/embassy/xds/cache/cachetest"
)

// protoCodec is gRPC's proto codec, which sends every message of a
// server built without ServerOptions.
var protoCodec = encoding.GetCodecV2(grpcproto.Name)

// randomResponse is a DiscoveryResponse of n resources of random types,
// names and sizes (empty ones included), and a random version and nonce,
// either of which may be empty.
func randomResponse(r *rand.Rand, n int) *discovery.DiscoveryResponse {
	types := []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}
	out := &discovery.DiscoveryResponse{TypeUrl: types[r.IntN(len(types))]}
	if r.IntN(4) > 0 {
		out.VersionInfo = fmt.Sprintf("v%x", r.Uint64())
	}
	for range n {
		value := make([]byte, r.IntN(3)*r.IntN(70_000))
		for i := range value {
			value[i] = byte(r.Uint32())
		}
		out.Resources = append(out.Resources, &anypb.Any{TypeUrl: out.TypeUrl, Value: value})
	}
	if r.IntN(8) > 0 {
		out.Nonce = fmt.Sprint(r.Int64N(1 << 40))
	}
	return out
}

// marshal returns the bytes c sends for m.
func marshal(t *testing.T, c encoding.CodecV2, m any) []byte {
	t.Helper()
	data, err := c.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data.Materialize()
}

// A response sent as its shared encoding and a nonce of its own is, byte
// for byte, what gRPC's proto codec sends for the same response, and
// decodes to it; over random sets of resources.
func TestSotwWireIsTheProtoEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	codec := wirecodec.New()
	for i := range 300 {
		want := randomResponse(r, r.IntN(12))
		body := proto.Clone(want).(*discovery.DiscoveryResponse)
		body.Nonce = ""
		b, err := encodeSotw(body)
		if err != nil {
			t.Fatal(err)
		}
		msg := &sotwWire{DiscoveryResponse: want, body: &cache.Encoded{Bytes: b}}
		got := marshal(t, codec, msg)
		today := marshal(t, protoCodec, want)
		if !bytes.Equal(got, today) {
			t.Fatalf("case %d: %d bytes sent, the proto codec sends %d others", i, len(got), len(today))
		}
		var back discovery.DiscoveryResponse
		if err := proto.Unmarshal(got, &back); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !proto.Equal(&back, want) {
			t.Fatalf("case %d: decodes to %v, want %v", i, &back, want)
		}
		// Without the codec, the message is still the response.
		if plain := marshal(t, protoCodec, msg); !bytes.Equal(plain, today) {
			t.Fatalf("case %d: the proto codec sends the message as something else", i)
		}
	}
}

// The codec leaves every message but a pre-encoded one to gRPC's proto
// codec, and passes a pre-encoded one's shared bytes as they are.
func TestWireCodecPassesSharedBytesWithoutCopying(t *testing.T) {
	codec := wirecodec.New()
	req := &discovery.DiscoveryRequest{TypeUrl: resourcev3.RouteType, ResourceNames: []string{"web"}}
	if got, want := marshal(t, codec, req), marshal(t, protoCodec, req); !bytes.Equal(got, want) {
		t.Errorf("a request is encoded as %x, the proto codec gives %x", got, want)
	}
	body := &cache.Encoded{Bytes: []byte{0x0a, 0x01, 0x31}}
	data, err := codec.Marshal(&sotwWire{DiscoveryResponse: &discovery.DiscoveryResponse{VersionInfo: "1", Nonce: "7"}, body: body})
	if err != nil {
		t.Fatal(err)
	}
	if first := data[0].ReadOnlyData(); &first[0] != &body.Bytes[0] {
		t.Error("the shared encoding was copied")
	}
	var back discovery.DiscoveryRequest
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(marshal(t, protoCodec, req))}, &back); err != nil || !proto.Equal(&back, req) {
		t.Errorf("decoded %v (%v), want %v", &back, err, req)
	}
}

// recordCodec is a client codec that encodes requests as gRPC does and
// keeps each response as the bytes received.
type recordCodec struct{}

func (recordCodec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (recordCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (recordCodec) Name() string { return grpcproto.Name }

// rawSotw is an ADS SotW stream whose responses are read as bytes.
type rawSotw struct{ grpc.ClientStream }

func openRaw(t *testing.T, conn *grpc.ClientConn) rawSotw {
	t.Helper()
	ctx, _ := streamContext(t)
	desc := &discovery.AggregatedDiscoveryService_ServiceDesc.Streams[0]
	s, err := conn.NewStream(ctx, desc, discovery.AggregatedDiscoveryService_StreamAggregatedResources_FullMethodName, grpc.ForceCodecV2(recordCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	return rawSotw{s}
}

func (s rawSotw) recv(t *testing.T) ([]byte, *discovery.DiscoveryResponse) {
	t.Helper()
	var b []byte
	if err := s.RecvMsg(&b); err != nil {
		t.Fatal(err)
	}
	var resp discovery.DiscoveryResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	return b, &resp
}

// Over real sockets, one xDS server registered on a gRPC server with
// ServerOptions and on one without (gRPC's proto codec, as before): twin
// proxies of one shape making the same random requests through a random
// sequence of pushes receive the same bytes from both, nonces included.
func TestSotwStreamsReceiveTheBytesTheProtoCodecSends(t *testing.T) {
	tws := newTwinServers(t)
	fake, wired, plain, services, update := tws.fake, tws.wired, tws.plain, tws.services, tws.update
	r := rand.New(rand.NewPCG(3, 4))

	type twin struct {
		wired, plain rawSotw
		id, ns       string
		last         map[string]*discovery.DiscoveryResponse
		eds          []string
	}
	var twins []*twin
	exchange := func(tw *twin, req *discovery.DiscoveryRequest) {
		t.Helper()
		for i, s := range []rawSotw{tw.wired, tw.plain} {
			req := proto.Clone(req).(*discovery.DiscoveryRequest)
			if req.Node != nil {
				// Two nodes of one shape, one per server.
				req.Node.Id = fmt.Sprintf("%s-%d.%s", tw.id, i, tw.ns)
			}
			if err := s.SendMsg(req); err != nil {
				t.Fatal(err)
			}
		}
		got, resp := tw.wired.recv(t)
		want, _ := tw.plain.recv(t)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes with the wire codec, %d others without", req.GetTypeUrl(), len(got), len(want))
		}
		tw.last[resp.GetTypeUrl()] = resp
	}
	ack := func(tw *twin, typ string, names []string) *discovery.DiscoveryRequest {
		last := tw.last[typ]
		return &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: last.GetVersionInfo(), ResponseNonce: last.GetNonce(), ResourceNames: names}
	}
	for i := range 4 {
		ns := []string{"default", "shop"}[i%2]
		tw := &twin{wired: openRaw(t, wired), plain: openRaw(t, plain), id: fmt.Sprintf("twin-%d", i), ns: ns, last: map[string]*discovery.DiscoveryResponse{}}
		for _, n := range services {
			if r.IntN(2) == 0 {
				tw.eds = append(tw.eds, n)
			}
		}
		tw.eds = append(tw.eds, "absent")
		twins = append(twins, tw)
		first := true
		for _, typ := range fourTypes {
			req := &discovery.DiscoveryRequest{TypeUrl: typ}
			switch typ {
			case resourcev3.RouteType:
				req.ResourceNames = []string{"web"}
			case resourcev3.EndpointType:
				req.ResourceNames = tw.eds
			}
			if first {
				req.Node, first = cachetest.EnvoyNode(tw.id), false
			}
			exchange(tw, req)
		}
		for _, typ := range fourTypes[:3] {
			// Acked, so only endpoint changes are due below.
			for _, s := range []rawSotw{tw.wired, tw.plain} {
				if err := s.SendMsg(ack(tw, typ, map[string][]string{resourcev3.RouteType: {"web"}}[typ])); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	port := uint32(9000)
	for range 20 {
		for _, n := range services {
			if r.IntN(3) == 0 {
				port++
				fake.SetPort(n, port)
			}
		}
		port++
		fake.SetPort(services[r.IntN(len(services))], port)
		update()
		for _, tw := range twins {
			if r.IntN(4) == 0 {
				// Another subscription: answered at once, in full.
				tw.eds = append(slices.Clone(tw.eds), services[r.IntN(len(services))])
			}
			// The ack of the last answer lets the push's answer out.
			exchange(tw, ack(tw, resourcev3.EndpointType, tw.eds))
		}
	}
}

// Streams due the same answer (proxies of one shape, subscribed to the
// same names, holding the same version) share one encoding of it: on
// connecting and after a push. A stream subscribed to other names gets
// an answer, and an encoding, of its own.
func TestStreamsSharingAnAnswerShareOneEncoding(t *testing.T) {
	// The encoding is kept while a stream holds it; with the collector
	// off, it is still held for the next stream, however slow the test.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	h := start(t)
	var encodes atomic.Int64
	h.srv.sotw.encode = func(resp *discovery.DiscoveryResponse) ([]byte, error) {
		encodes.Add(1)
		return encodeSotw(resp)
	}
	h.update(t, 1)
	subs := map[string][]string{"a": {"db", "web"}, "b": {"web", "db"}, "c": {"db", "web"}, "d": {"web"}}
	streams := map[string]discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient{}
	last := map[string]*discovery.DiscoveryResponse{}
	for _, id := range []string{"a", "b", "c", "d"} {
		s := h.sotw(t)
		req := &discovery.DiscoveryRequest{Node: cachetest.EnvoyNode(id + ".default"), TypeUrl: resourcev3.EndpointType, ResourceNames: subs[id]}
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		streams[id], last[id] = s, resp
	}
	if n := encodes.Load(); n != 2 {
		t.Errorf("4 first answers over 2 subscriptions took %d encodings, want 2", n)
	}
	for id, s := range streams {
		if err := s.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.EndpointType, VersionInfo: last[id].GetVersionInfo(), ResponseNonce: last[id].GetNonce(), ResourceNames: subs[id]}); err != nil {
			t.Fatal(err)
		}
	}
	h.fake.SetPort("db", 6001)
	h.update(t, 2)
	got := map[string]*discovery.DiscoveryResponse{}
	for id, s := range streams {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got[id] = resp
	}
	if n := encodes.Load(); n != 4 {
		t.Errorf("the push's 4 answers over 2 subscriptions took %d encodings, want 2", n-2)
	}
	for _, id := range []string{"b", "c"} {
		if !slices.Equal(names(t, got[id]), []string{"db"}) || !proto.Equal(got[id].GetResources()[0], got["a"].GetResources()[0]) ||
			got[id].GetVersionInfo() != got["a"].GetVersionInfo() || got[id].GetNonce() != "2" {
			t.Errorf("%s got %v, want a's answer (%v) with nonce 2", id, got[id], got["a"])
		}
	}
	if len(got["d"].GetResources()) != 0 || got["d"].GetVersionInfo() != got["a"].GetVersionInfo() {
		t.Errorf("d got %v, want the new version and nothing it subscribes to", got["d"])
	}
}

// twinServers is one xDS server, over a fake translator serving web, db
// and svc-0 to svc-5, registered on a gRPC server with ServerOptions
// (wired) and on one without (plain), pushed once.
type twinServers struct {
	fake         *cachetest.Translator
	wired, plain *grpc.ClientConn
	services     []string
	// update pushes the next revision and waits for it.
	update func()
}

func newTwinServers(t *testing.T) *twinServers {
	t.Helper()
	fake := cachetest.New()
	srv := New(Config{Translator: fake, Debounce: time.Millisecond, MaxDelay: 20 * time.Millisecond})
	t.Cleanup(srv.Close)
	tws := &twinServers{fake: fake, wired: grpctest.ServeWith(t, ServerOptions(), srv.Register), plain: grpctest.Serve(t, srv.Register), services: []string{"web", "db"}}
	for i := range 6 {
		tws.services = append(tws.services, fmt.Sprintf("svc-%d", i))
		fake.SetPort(tws.services[len(tws.services)-1], uint32(7000+i))
	}
	rev := int64(1)
	tws.update = func() {
		srv.Update(mesh.New(rev, nil))
		poll.Until(t, "push of the revision", func() bool { return srv.Stats().Revision == rev })
		rev++
	}
	tws.update()
	return tws
}
