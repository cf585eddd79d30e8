package extauthz

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

// corpusBundles compiles every corpus policy, everyFastField and
// stringFields, and returns them with every corpus request.
func corpusBundles(t *testing.T) ([]*compile.Bundle, []*authv3.CheckRequest) {
	t.Helper()
	dirs, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*authv3.CheckRequest
	var bundles []*compile.Bundle
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		spec, cf := readCorpus(t, filepath.Join(corpusDir, d.Name()))
		b, err := compile.Compile("corpus/"+d.Name(), spec)
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, b)
		for _, c := range cf.Cases {
			var req authv3.CheckRequest
			if err := protojson.Unmarshal(c.Request, &req); err != nil {
				t.Fatalf("%s: request: %v", c.Name, err)
			}
			reqs = append(reqs, &req)
		}
	}
	return append(bundles, compileRego(t, everyFastField), compileRego(t, stringFields)), reqs
}

// envoyRequest is a request as Envoy sends one, with the fields a fast
// key does not read set too: the time, both peers' addresses, context
// extensions and empty metadata.
func envoyRequest() *authv3.CheckRequest {
	req := rawRequest("GET", "/api/books?debug=1", map[string]string{
		":authority": "api.example", ":path": "/api/books?debug=1", "x-user": "u", "x-request-id": "r1",
	}, "", "spiffe://d/ns/a/sa/web")
	a := req.Attributes
	a.Destination.Address = &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: "10.0.0.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
	}}}
	a.Request.Time = timestamppb.New(time.Date(2026, 12, 7, 21, 0, 0, 5000, time.UTC))
	a.Request.Http.Protocol, a.Request.Http.Size = "HTTP/1.1", -1
	a.ContextExtensions = map[string]string{"virtual_host": "api"}
	a.MetadataContext = &corev3.Metadata{}
	return req
}

// sameWireKey requires that when the wire key reads raw, the decoded
// request gives the same key and the same path check; it reports
// whether the wire key read raw.
func sameWireKey(t *testing.T, name string, fk *fastKey, raw []byte) bool {
	t.Helper()
	w, ok := readWire(raw)
	if !ok {
		return false
	}
	var req authv3.CheckRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		t.Fatalf("%s: the wire scan read bytes proto refuses: %v", name, err)
	}
	if !protoBuilds(req.ProtoReflect()) {
		t.Fatalf("%s: the wire scan read a request whose input does not build", name)
	}
	if got, want := checkPaths(w.httpField(httpPath), w.header), checkPath(&req); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: path check from the bytes %v, decoded %v", name, got, want)
	}
	got, gok := fk.keyWire(w)
	if !gok {
		return false
	}
	want, wok := fk.key(&req)
	if !wok || got != want {
		t.Errorf("%s: wire key %q, decoded key %q (ok %v)", name, got, want, wok)
	}
	return true
}

// TestWireKeyEqualsDecodedKey computes the key of every corpus request,
// and of a request as Envoy sends one, for every policy with a fast key,
// from the bytes and from the decoded request, and requires one key.
func TestWireKeyEqualsDecodedKey(t *testing.T) {
	bundles, reqs := corpusBundles(t)
	reqs = append(reqs, envoyRequest())
	fast, read := 0, 0
	for _, b := range bundles {
		fk := newFastKey(b, b.InputDeps())
		if fk == nil {
			continue
		}
		fast++
		for i, req := range reqs {
			raw, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if sameWireKey(t, fmt.Sprintf("%s request %d", b.Name(), i), fk, raw) {
				read++
			}
		}
		raw, _ := proto.Marshal(envoyRequest())
		if _, ok := fk.keyWire(mustReadWire(t, raw)); !ok {
			t.Errorf("%s: the wire key does not read a request as Envoy sends it", b.Name())
		}
	}
	t.Logf("%d policies with a fast key, %d requests read from their bytes", fast, read)
	if fast < 2 || read < len(reqs) {
		t.Errorf("%d policies with a fast key, %d requests read from their bytes: the test proves little", fast, read)
	}
}

func mustReadWire(t *testing.T, raw []byte) wireRequest {
	t.Helper()
	w, ok := readWire(raw)
	if !ok {
		t.Fatalf("the wire scan refuses a request as Envoy sends it")
	}
	return w
}

// TestWireScanRefuses names what keeps bytes off the wire path: what
// proto.Unmarshal refuses, what would not build an input, and what the
// scan does not model (a field set twice, a Struct, an unknown field).
func TestWireScanRefuses(t *testing.T) {
	good, _ := proto.Marshal(envoyRequest())
	withStruct := envoyRequest()
	withStruct.Attributes.MetadataContext.FilterMetadata = map[string]*structpb.Struct{"f": {}}
	farTime := envoyRequest()
	farTime.Attributes.Request.Time.Seconds = maxTimestamp + 1
	for name, raw := range map[string][]byte{
		"truncated":          good[:len(good)-1],
		"field number 0":     {0x02, 0x00},
		"bad wire type":      {0x0f},
		"varint too long":    append([]byte{0x08}, make11(0xff)...),
		"attributes twice":   append(append([]byte{}, good...), good...),
		"unknown field":      append(append([]byte{}, good...), 0xf8, 0x01, 0x01),
		"struct metadata":    mustMarshal(t, withStruct),
		"timestamp too late": mustMarshal(t, farTime),
		"bad utf-8 path":     requestWithPath("/\xff"),
		"attributes varint":  {0x08, 0x01},
	} {
		if _, ok := readWire(raw); ok {
			t.Errorf("%s: read", name)
		}
	}
	if _, ok := readWire(good); !ok {
		t.Error("a request as Envoy sends it is refused")
	}
}

func make11(b byte) []byte {
	out := make([]byte, 11)
	for i := range out {
		out[i] = b
	}
	return out
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// requestWithPath is the bytes of a CheckRequest holding only a path,
// encoded by hand, so that it may be what proto.Marshal refuses to
// encode (invalid UTF-8), as a peer that does not validate might send.
func requestWithPath(path string) []byte {
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	return field(numAttributes, field(numRequest, field(numHTTP, field(numHTTPFields[httpPath], []byte(path)))))
}

// TestWireAnswerEqualsResponse encodes every kind of decision for the
// wire and requires the response Check builds.
func TestWireAnswerEqualsResponse(t *testing.T) {
	meta := map[string]any{"user": "alice", "n": 3, "nested": map[string]any{"a": []any{"x", true}}, "decision_id": "policy's own"}
	for name, d := range map[string]engine.Decision{
		"boolean allow":  {Allowed: true, Boolean: true},
		"boolean deny":   {Boolean: true},
		"object allow":   {Allowed: true, Headers: []engine.Header{{Key: "x-user", Value: "alice"}}, RequestHeadersToRemove: []string{"authorization"}, DynamicMetadata: meta},
		"object deny":    {HTTPStatus: 401, Body: "no", Headers: []engine.Header{{Key: "www-authenticate", Value: "Bearer"}}, DynamicMetadata: meta},
		"dry-run deny":   {DryRun: true},
		"query edits":    {Allowed: true, QueryParametersToRemove: []string{"debug"}, QueryParametersToSet: []engine.Header{{Key: "a", Value: "b"}}},
		"response edits": {Allowed: true, ResponseHeadersToAdd: []engine.Header{{Key: "x-a", Value: "1"}}},
	} {
		a := newWireAnswer(d)
		if a == nil {
			t.Fatalf("%s: does not encode", name)
		}
		id := decisionID()
		var got authv3.CheckResponse
		if err := proto.Unmarshal(a.append(nil, id), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := response(d, id); !proto.Equal(&got, want) {
			t.Errorf("%s:\n wire  %v\n built %v", name, &got, want)
		}
	}
}

// TestAnswersMatchPeerFromCache asks every corpus case twice of a server
// with the decision cache, so that the second answer of a cacheable
// policy is sent from the cache as bytes, and requires the plugin's
// answer both times.
func TestAnswersMatchPeerFromCache(t *testing.T) {
	wireHits := 0
	matchPeer(t, Options{CacheSize: 1000}, func(srv *Server, b *compile.Bundle, req *authv3.CheckRequest) {
		raw, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, hit := srv.cache.hitWire(b, raw); hit {
			wireHits++
		}
	})
	t.Logf("%d cases answered from the cache's bytes", wireHits)
	if wireHits < 20 {
		t.Errorf("%d corpus cases answered from the cache's bytes, want at least 20", wireHits)
	}
}

// rawCodec sends and receives messages as bytes, as a peer that sends
// anything might.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestCheckRefusesMalformedBytes sends bytes that are no CheckRequest
// over gRPC: each is refused with InvalidArgument and counts no
// decision, and the server answers the next request.
func TestCheckRefusesMalformedBytes(t *testing.T) {
	b := compileRego(t, everyFastField)
	conn, srv := serveConn(t, engine.New(), Options{CacheSize: 100})
	client := authv3.NewAuthorizationClient(conn)
	if err := srv.Load(b); err != nil {
		t.Fatal(err)
	}
	good, _ := proto.Marshal(envoyRequest())
	for name, raw := range map[string][]byte{
		"truncated":      good[:len(good)-3],
		"bad wire type":  {0x0f},
		"bad utf-8 path": requestWithPath("/\xff"),
	} {
		var out []byte
		err := conn.Invoke(context.Background(), "/envoy.service.auth.v3.Authorization/Check", &raw, &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if n := srv.Counts(); len(n) != 0 {
		t.Errorf("malformed requests counted as decisions: %v", n)
	}
	check(t, client, envoyRequest())
}

// FuzzWireKey feeds arbitrary bytes to the wire path: nothing panics;
// bytes the scan reads decode to a request whose input builds, with the
// key and path check the decoded request gives; bytes that do not decode
// are refused with InvalidArgument; and a cached server's answers (the
// second from the cache's bytes) equal an uncached server's.
func FuzzWireKey(f *testing.F) {
	seeds := []*authv3.CheckRequest{
		envoyRequest(),
		rawRequest("GET", "/api/x", map[string]string{"x-user": "a", "x-tenant": "t"}, "", "spiffe://d/ns/a/sa/b"),
		rawRequest("POST", "/api/orders?debug=1", map[string]string{"content-type": "application/json"}, `{"a": 1}`, "p"),
		rawRequest("GET", "/api/../admin", map[string]string{":path": "/api/x"}, "", "p"),
	}
	for _, req := range seeds {
		f.Add(mustMarshal(f, req))
	}
	f.Add(requestWithPath("/\xff"))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	b, strs := compileRego(f, everyFastField), compileRego(f, stringFields)
	fk, sk := newFastKey(b, b.InputDeps()), newFastKey(strs, strs.InputDeps())
	cached := New(engine.New(), Options{CacheSize: 100, Timeout: time.Minute})
	if err := cached.Load(b); err != nil {
		f.Fatal(err)
	}
	plain := New(load(f, b), Options{Timeout: time.Minute})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameWireKey(t, "fuzzed", fk, raw)
		sameWireKey(t, "fuzzed", sk, raw)
		var req authv3.CheckRequest
		uerr := proto.Unmarshal(raw, &req)
		for range 2 {
			out, err := cached.CheckWire(ctx, raw)
			if uerr != nil {
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("bytes that do not decode (%v) answered %v", uerr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got authv3.CheckResponse
			if err := proto.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want, _ := plain.Check(ctx, &req)
			if g, w := peerComparable(t, &got), peerComparable(t, want); !proto.Equal(g, w) {
				t.Fatalf("cached %v\nuncached %v", g, w)
			}
		}
	})
}

// TestWireLogEntryEqualsDecoded requires that a decision line of a
// request answered from its bytes shows what the decoded request shows.
func TestWireLogEntryEqualsDecoded(t *testing.T) {
	_, reqs := corpusBundles(t)
	for i, req := range append(reqs, envoyRequest()) {
		raw := mustMarshal(t, req)
		if _, ok := readWire(raw); !ok {
			continue
		}
		var decoded authv3.CheckRequest
		if err := proto.Unmarshal(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		got, want := logEntry{}.ofWire(raw), logEntry{}.of(&decoded)
		if want.headers == nil {
			want.headers = map[string]string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request %d: from the bytes %+v, decoded %+v", i, got, want)
		}
	}
}
