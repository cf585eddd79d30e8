package extauthz

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

const jwtAndPath = `package envoy.authz

default allow := false

claims := payload if {
	[_, token] := split(input.attributes.request.http.headers.authorization, " ")
	[valid, _, payload] := io.jwt.decode_verify(token, {"secret": data.jwt.secret, "iss": data.jwt.issuer})
	valid
}

allow if {
	startswith(input.attributes.request.http.path, "/api/books/")
	input.attributes.request.http.method == "GET"
	claims.role in {"admin", "reader"}
}
`

// BenchmarkCheck times one Check through the gRPC API over a unix socket
// (a JWT-and-path policy, decision logs as JSON to io.Discard) from two
// goroutines per core.
func BenchmarkCheck(b *testing.B) {
	bundle, err := compile.Compile("default/bench", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "authz.rego", Rego: jwtAndPath}},
		Data:    json.RawMessage(`{"jwt": {"secret": "corpus-hs256-secret-for-tests-only", "issuer": "https://issuer.bookstore.example"}}`),
	})
	if err != nil {
		b.Fatal(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard})
	client, _ := serve(b, load(b, bundle), Options{Logger: logger})
	// The reader token of the jwt-hs256 corpus policy.
	const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJpc3MiOiJodHRwczovL2lzc3Vlci5ib29rc3RvcmUuZXhhbXBsZSIsInJvbGUiOiJyZWFkZXIiLCJzdWIiOiJib2IifQ." +
		"zrn4q7-iKoXVQjmgKq2G_1vcWGQtQpaINHt_Xv-riuI"
	req := httpRequest("GET", "/api/books/42?fields=title", map[string]string{
		"authorization": "Bearer " + token,
		"x-request-id":  "bench",
		"user-agent":    "bench/1.0",
	}, "spiffe://bookstore.example/ns/web/sa/frontend")
	if resp := check(b, client, req); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		b.Fatalf("benchmark request denied: %v", resp)
	}

	b.SetParallelism(1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Check(b.Context(), req)
			if err != nil || resp.GetStatus().GetCode() != int32(code.Code_OK) {
				b.Errorf("%v %v", resp, err)
				return
			}
		}
	})
}
