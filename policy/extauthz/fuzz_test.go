package extauthz

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
)

// FuzzBuildInput feeds odd CheckRequests to the input builder and the
// Check handler: nothing panics, and each request either becomes an input
// document or is denied with 400.
func FuzzBuildInput(f *testing.F) {
	seeds := []struct {
		method, path, hkey, hval, ctype, clen, body string
		raw                                         []byte
	}{
		{"GET", "/", "x-request-id", "r1", "", "", "", nil},
		{"POST", "/orders?x=1&x=2", "", "", "application/json", "", `{"a": [1, 2.5e3, null]}`, nil},
		{"POST", "/orders", "", "", "application/json", "4096", `{"trunc`, nil},
		{"POST", "/orders", "", "", "application/json", "", `{"a": `, nil},
		{"POST", "/orders", "", "", "application/json", "-1", `[1]`, nil},
		{"POST", "/orders", "", "", "application/json", "9999999999999999999999", `[1]`, nil},
		{"POST", "/orders", "", "", "application/json; charset=utf-8", "", "", []byte(`{"raw": true}`)},
		{"POST", "/form", "", "", "application/x-www-form-urlencoded", "", "a=1&b=%zz", nil},
		{"POST", "/form", "", "", "application/x-www-form-urlencoded", "", "a=1;b=2", nil},
		{"GET", "/%zz", "", "", "", "", "", nil},
		{"GET", "/a?%zz=1&b", "", "", "", "", "", nil},
		{"GET", "http://[::1", "", "", "", "", "", nil},
		{"GET", "/" + strings.Repeat("a/", 50000), "", "", "", "", "", nil},
		{"GET", "/?" + strings.Repeat("k=v&", 20000), "", "", "", "", "", nil},
		{"", "", "", "", "", "", "", nil},
		{"GET", "/", "bad\xffkey", "bad\xffvalue", "", "", "", nil},
		{"GET", "/\xff", "", "", "", "", "", nil},
		{"GET", "/", "x", strings.Repeat("\x00", 100), "", "", "", nil},
		{"POST", "/deep", "", "", "application/json", "", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), nil},
		{"POST", "/deep", "", "", "application/json", "", `"\ud800"`, nil},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.hkey, s.hval, s.ctype, s.clen, s.body, s.raw)
	}
	srv := New(load(f, compileRego(f, "package envoy.authz\n\ndefault allow := false\n\nallow if input.parsed_path[0] == \"orders\"\n")), Options{})

	f.Fuzz(func(t *testing.T, method, path, hkey, hval, ctype, clen, body string, raw []byte) {
		headers := map[string]string{}
		if hkey != "" {
			headers[hkey] = hval
		}
		if ctype != "" {
			headers["content-type"] = ctype
		}
		if clen != "" {
			headers["content-length"] = clen
		}
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1"}}},
			},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: path, Headers: headers, Body: body, RawBody: raw,
			}},
		}}

		input, err := BuildInput(req)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
		} else {
			for _, k := range []string{"attributes", "parsed_path", "parsed_query", "parsed_body", "truncated_body", "version"} {
				if _, ok := input[k]; !ok {
					t.Fatalf("input lacks %s", k)
				}
			}
		}

		resp, cerr := srv.Check(context.Background(), req)
		if cerr != nil {
			t.Fatal(cerr)
		}
		switch {
		case err != nil:
			if resp.GetStatus().GetCode() != int32(code.Code_PERMISSION_DENIED) || EnvoyStatus(resp) != 400 {
				t.Fatalf("bad request answered %v", resp)
			}
		case resp.GetStatus().GetCode() == int32(code.Code_OK):
		case EnvoyStatus(resp) != 403:
			t.Fatalf("parsed request answered %v", resp)
		}
	})
}
