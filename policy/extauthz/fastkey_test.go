package extauthz

import (
	"fmt"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/policy/compile"
)

// everyFastField is a policy that reads every kind of field the fast key
// reads, and some paths inside them that no input holds.
const everyFastField = `package envoy.authz

default allow := false

allow if {
	input.attributes.source.principal != input.attributes.destination.principal
	input.attributes.request.http.method in {"GET", "POST"}
	startswith(input.attributes.request.http.path, "/api/")
	input.attributes.request.http.host != "evil.example"
	input.attributes.request.http.headers["x-user"] != ""
	not input.attributes.request.http.headers["x-tenant"].id
	not input.attributes.request.http.method.x
	input.parsed_path[0] == "api"
	count(input.parsed_path) < 5
	not input.parsed_path[1.5]
	input.parsed_query.debug != ["1"]
	input.version.ext_authz == "v3"
}
`

// stringFields is a policy that reads only string fields, and a path
// inside one that no input holds, so its key is written from the strings
// (fastKey.textKey).
const stringFields = `package envoy.authz

default allow := false

allow if {
	input.attributes.source.principal != input.attributes.destination.principal
	input.attributes.request.http.method in {"GET", "POST"}
	input.attributes.request.http.headers["x-user"] != ""
	not input.attributes.request.http.headers["x-tenant"].id
	startswith(input.attributes.request.http.path, "/api/")
}
`

// sameKey requires that when the fast key reads req, its input builds and
// gives the very key the fast key gave; it reports whether it read req.
func sameKey(t *testing.T, name string, b *compile.Bundle, fk *fastKey, req *authv3.CheckRequest) bool {
	t.Helper()
	got, ok := fk.key(req)
	input, err := InputValue(req)
	if !ok {
		return false
	}
	if err != nil {
		t.Errorf("%s: fast key %q for a request whose input fails: %v", name, got, err)
		return true
	}
	want, wok := fk.deps.Key(input)
	if !wok || got != want {
		t.Errorf("%s: fast key %q, input's key %q (ok %v)", name, got, want, wok)
	}
	return true
}

// TestFastKeyEqualsInputKeyOverCorpus computes the key of every corpus
// request for every corpus policy both ways and requires one key.
func TestFastKeyEqualsInputKeyOverCorpus(t *testing.T) {
	bundles, reqs := corpusBundles(t)
	fast, read, texts := 0, 0, 0
	for _, b := range bundles {
		fk := newFastKey(b, b.InputDeps())
		if fk == nil {
			continue
		}
		if fk.texts {
			texts++
		}
		fast++
		for i, req := range reqs {
			if sameKey(t, fmt.Sprintf("%s request %d", b.Name(), i), b, fk, req) {
				read++
			}
		}
	}
	if fast < 2 || read == 0 || texts == 0 || texts == fast {
		t.Errorf("%d policies with a fast key (%d keyed on strings alone), %d requests read: the test proves little", fast, texts, read)
	}
}

// TestFastKeyRefuses names what keeps a policy or a request off the fast
// key: a field it cannot read, JWT providers, and requests whose input
// would not build.
func TestFastKeyRefuses(t *testing.T) {
	for _, rego := range []string{
		"package envoy.authz\n\nallow if input.attributes.request.http.headers.x == input.parsed_body.x\n",
		"package envoy.authz\n\nallow if input.attributes.source.address.socketAddress.address == \"10.0.0.1\"\n",
		"package envoy.authz\n\nallow if count(input.attributes.request.http.headers) > 2\n",
	} {
		b := compileRego(t, rego)
		if d := b.InputDeps(); !d.Cacheable || newFastKey(b, d) != nil {
			t.Errorf("fast key for %q on %q", rego, d.Fields)
		}
	}
	b := compileRego(t, everyFastField)
	fk := newFastKey(b, b.InputDeps())
	for name, req := range map[string]*authv3.CheckRequest{
		"bad json body": rawRequest("POST", "/api/x", map[string]string{"content-type": "application/json"}, `{"a":`, "p"),
		"bad path":      rawRequest("GET", "http://[::1", nil, "", "p"),
		"bad header":    rawRequest("GET", "/api/x", map[string]string{"x-other": "\xff"}, "", "p"),
		"bad principal": rawRequest("GET", "/api/x", nil, "", "\xff"),
		"bad label":     withPeer(func(p *authv3.AttributeContext_Peer) { p.Labels = map[string]string{"app": "\xff"} }),
		"bad address": withPeer(func(p *authv3.AttributeContext_Peer) {
			p.Address.GetSocketAddress().Address = "\xff"
		}),
		"bad certificate": withPeer(func(p *authv3.AttributeContext_Peer) { p.Certificate = "\xff" }),
	} {
		if _, err := InputValue(req); err == nil {
			t.Errorf("%s: input builds", name)
		}
		if k, ok := fk.key(req); ok {
			t.Errorf("%s: fast key %q", name, k)
		}
	}
}

// rawRequest builds a CheckRequest field by field, so that it may hold
// what protojson would refuse.
func rawRequest(method, path string, headers map[string]string, body, principal string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Principal: principal,
			Address:   &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1"}}},
		},
		Destination: &authv3.AttributeContext_Peer{Principal: "spiffe://d/ns/a/sa/api"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "api.example", Headers: headers, Body: body,
		}},
	}}
}

// withPeer is a request the fast key would read, but for what edit
// changes in its source.
func withPeer(edit func(*authv3.AttributeContext_Peer)) *authv3.CheckRequest {
	req := rawRequest("GET", "/api/x", map[string]string{"x-user": "u"}, "", "p")
	edit(req.Attributes.Source)
	return req
}

// FuzzFastKey varies every field the fast key reads, and the body and
// headers it does not, and requires the key of the input.
func FuzzFastKey(f *testing.F) {
	f.Add("GET", "/api/books?debug=1&debug=2", "alice", "t1", "spiffe://d/ns/a/sa/b", "", "")
	f.Add("POST", "/api/orders", "bob", "", "", "application/json", `{"a": 1}`)
	f.Add("POST", "/api/orders", "bob", "", "", "application/json", `{"a": `)
	f.Add("POST", "/form", "", "", "", "application/x-www-form-urlencoded", "a=%zz")
	f.Add("GET", "/%zz", "", "", "", "", "")
	f.Add("GET", "http://[::1", "", "", "", "", "")
	f.Add("GET", "/api/\xff", "\xff", "", "\xff", "", "")
	f.Add("", "", "", "", "", "", "")
	f.Add("GET", "/"+strings.Repeat("a/", 100), "x", "y", "z", "text/plain", "body")
	b, strs := compileRego(f, everyFastField), compileRego(f, stringFields)
	fk, sk := newFastKey(b, b.InputDeps()), newFastKey(strs, strs.InputDeps())
	if fk == nil || sk == nil || fk.texts || !sk.texts {
		f.Fatal("no fast keys of both kinds")
	}
	f.Fuzz(func(t *testing.T, method, path, user, tenant, principal, ctype, body string) {
		headers := map[string]string{"x-request-id": "r"}
		for k, v := range map[string]string{"x-user": user, "x-tenant": tenant, "content-type": ctype} {
			if v != "" {
				headers[k] = v
			}
		}
		req := rawRequest(method, path, headers, body, principal)
		sameKey(t, path, b, fk, req)
		sameKey(t, path, strs, sk, req)
	})
}
