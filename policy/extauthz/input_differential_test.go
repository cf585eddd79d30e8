package extauthz

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// roundTripInput is the input as it was built before InputValue: the
// request through protojson and a JSON decoder, the parsed fields as
// plain Go values. It is the reference InputValue must equal.
func roundTripInput(req *authv3.CheckRequest) (map[string]any, error) {
	raw, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var input map[string]any
	if err := util.UnmarshalJSON(raw, &input); err != nil {
		return nil, err
	}
	if input == nil {
		input = map[string]any{}
	}
	input["version"] = map[string]any{"ext_authz": "v3", "encoding": "protojson"}
	h := req.GetAttributes().GetRequest().GetHttp()
	u, err := url.Parse(h.GetPath())
	if err != nil {
		return nil, err
	}
	var segs []any
	for _, s := range strings.Split(strings.TrimLeft(u.Path, "/"), "/") {
		segs = append(segs, s)
	}
	input["parsed_path"] = segs
	input["parsed_query"] = plainLists(u.Query())
	body := h.GetBody()
	if body == "" {
		body = string(h.GetRawBody())
	}
	input["parsed_body"], input["truncated_body"], err = roundTripBody(h.GetHeaders(), body)
	return input, err
}

func roundTripBody(headers map[string]string, body string) (any, bool, error) {
	ct := headers["content-type"]
	isJSON, isForm := strings.Contains(ct, "application/json"), strings.Contains(ct, "application/x-www-form-urlencoded")
	if (!isJSON && !isForm) || body == "" {
		return nil, false, nil
	}
	if cl, ok := headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return nil, false, err
		}
		if n != -1 && n > int64(len(body)) {
			return nil, true, nil
		}
	}
	if isForm {
		form, err := url.ParseQuery(body)
		return plainLists(form), false, err
	}
	var v any
	return v, false, util.UnmarshalJSON([]byte(body), &v)
}

func plainLists(values url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range values {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[k] = list
	}
	return out
}

// sameInput fails t unless InputValue and the round trip agree: both
// refuse req, or both make the same document.
func sameInput(t *testing.T, name string, req *authv3.CheckRequest) {
	t.Helper()
	want, wantErr := roundTripInput(req)
	got, gotErr := InputValue(req)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%s: round trip error %v, InputValue error %v", name, wantErr, gotErr)
	}
	if gotErr != nil {
		if !errors.Is(gotErr, ErrBadRequest) {
			t.Fatalf("%s: error %v is not a bad request", name, gotErr)
		}
		return
	}
	wantValue, err := ast.InterfaceToValue(want)
	if err != nil {
		t.Fatal(err)
	}
	if wantValue.Compare(got) != 0 {
		wj, _ := json.Marshal(want)
		t.Fatalf("%s:\n InputValue %s\n round trip %s", name, got, wj)
	}
	doc, err := BuildInput(req)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ast.InterfaceToValue(doc); v.Compare(wantValue) != 0 {
		t.Fatalf("%s: BuildInput differs from InputValue", name)
	}
}

// TestInputValueMatchesRoundTrip holds the direct builder to the old
// protojson round trip over every request of the corpus and a request
// that sets every kind of field the attributes have.
func TestInputValueMatchesRoundTrip(t *testing.T) {
	dirs, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		_, cf := readCorpus(t, filepath.Join(corpusDir, d.Name()))
		for _, c := range cf.Cases {
			var req authv3.CheckRequest
			if err := protojson.Unmarshal(c.Request, &req); err != nil {
				t.Fatal(err)
			}
			sameInput(t, d.Name()+"/"+c.Name, &req)
			n++
		}
	}
	sameInput(t, "every field", richRequest(1.5, 1700000000, 123000, "/a/b?x=1&x=2", `{"n": [1, 2.5e3]}`))
	sameInput(t, "empty", &authv3.CheckRequest{})
	if n < 40 {
		t.Fatalf("compared %d corpus requests, want at least 40", n)
	}
}

// richRequest sets the attributes a plain corpus request leaves out:
// times, 64-bit numbers, bytes, enums, structs, an Any, wrappers, labels.
func richRequest(f float64, secs int64, nanos int32, path, body string) *authv3.CheckRequest {
	meta, _ := structpb.NewStruct(map[string]any{"k": "v", "n": f, "l": []any{true, nil, "s"}})
	packed, _ := anypb.New(&corev3.SocketAddress{Address: "10.1.1.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8443}})
	wkt, _ := anypb.New(wrapperspb.Int64(-7))
	peer := &authv3.AttributeContext_Peer{
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "10.0.0.7", Protocol: corev3.SocketAddress_UDP, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000},
		}}},
		Principal:   "spiffe://bookstore.example/ns/web/sa/frontend",
		Certificate: "-----BEGIN CERTIFICATE-----",
		Labels:      map[string]string{"app": "web", "version": "v2"},
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      peer,
		Destination: &authv3.AttributeContext_Peer{Service: "books", Labels: map[string]string{}},
		Request: &authv3.AttributeContext_Request{
			Time: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos},
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "42", Method: "POST", Path: path, Host: "books", Scheme: "https", Protocol: "HTTP/2",
				Size: 1 << 40, Body: body, RawBody: []byte(body + "\x00\xff"),
				Headers: map[string]string{"content-type": "application/json", ":path": path},
			},
		},
		ContextExtensions: map[string]string{"route": "r1"},
		MetadataContext: &corev3.Metadata{
			FilterMetadata:      map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": meta},
			TypedFilterMetadata: map[string]*anypb.Any{"addr": packed, "wkt": wkt},
		},
		TlsSession: &authv3.AttributeContext_TLSSession{Sni: "books.local"},
	}}
}

// FuzzInputValue compares InputValue with the protojson round trip on
// requests varied in every field kind: odd paths, bodies, headers, float
// and time edge cases.
func FuzzInputValue(f *testing.F) {
	f.Add("/a?x=1", "hkey", "hval", `{"a": 1}`, 1.5, int64(1700000000), int32(5))
	f.Add("/%zz", "bad\xffkey", "v", `[`, math.NaN(), int64(-62135596800), int32(0))
	f.Add("/", "k", "bad\xffvalue", ``, math.Inf(1), int64(253402300800), int32(999999999))
	f.Add("http://[::1", "", "", `"\ud800"`, 1e-7, int64(0), int32(-1))
	f.Add("/x?a=%zz&b", "content-length", "3", `{"a": 1}`, 1e21, int64(1), int32(1000))
	f.Fuzz(func(t *testing.T, path, hkey, hval, body string, num float64, secs int64, nanos int32) {
		req := richRequest(num, secs, nanos, path, body)
		if hkey != "" {
			req.Attributes.Request.Http.Headers[hkey] = hval
		}
		sameInput(t, "fuzzed", req)
	})
}
