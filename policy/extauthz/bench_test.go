package extauthz

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
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

// BenchmarkCheck times one Check of a JWT-and-path policy from two
// goroutines per core: through the gRPC API over a unix socket, and in
// process (the Check path alone), each with every decision logged as
// JSON to io.Discard and with allows unlogged (--decision-log-sample 0).
// The deadline is a liveness bound only: a loaded machine must not turn
// a slow Check into a deny.
func BenchmarkCheck(b *testing.B) {
	bundle, err := compile.Compile("default/bench", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "authz.rego", Rego: jwtAndPath}},
		Data:    json.RawMessage(`{"jwt": {"secret": "corpus-hs256-secret-for-tests-only", "issuer": "https://issuer.bookstore.example"}}`),
	})
	if err != nil {
		b.Fatal(err)
	}
	// The reader token of the jwt-hs256 corpus policy.
	const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJpc3MiOiJodHRwczovL2lzc3Vlci5ib29rc3RvcmUuZXhhbXBsZSIsInJvbGUiOiJyZWFkZXIiLCJzdWIiOiJib2IifQ." +
		"zrn4q7-iKoXVQjmgKq2G_1vcWGQtQpaINHt_Xv-riuI"
	req := httpRequest("GET", "/api/books/42?fields=title", map[string]string{
		"authorization": "Bearer " + token,
		"x-request-id":  "bench",
		"user-agent":    "bench/1.0",
	}, "spiffe://bookstore.example/ns/web/sa/frontend")

	for _, sample := range []float64{1, 0} {
		for _, grpc := range []bool{true, false} {
			name := fmt.Sprintf("grpc=%t/log-sample=%v", grpc, sample)
			b.Run(name, func(b *testing.B) {
				dl := NewDecisionLog(hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: io.Discard}), nil, sample)
				defer dl.Close()
				var client authv3.AuthorizationClient
				if grpc {
					client, _ = serve(b, load(b, bundle), Options{DecisionLog: dl, Timeout: time.Minute})
				} else {
					client = directClient{New(load(b, bundle), Options{DecisionLog: dl, Timeout: time.Minute})}
				}
				benchChecks(b, client, req)
			})
		}
	}
}

func benchChecks(b *testing.B, client authv3.AuthorizationClient, req *authv3.CheckRequest) {
	if resp := check(b, client, req); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		b.Fatalf("benchmark request denied: %v", resp)
	}
	b.SetParallelism(1)
	b.ReportAllocs()
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

// BenchmarkInputValue times building the input of a typical mesh request
// (peers with addresses and principals, eight headers, a query).
func BenchmarkInputValue(b *testing.B) {
	req := richRequest(1.5, 1700000000, 0, "/api/books/42?fields=title", "")
	req.Attributes.MetadataContext, req.Attributes.Request.Http.RawBody = nil, nil
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InputValue(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripInput times the same input built the old way, through
// protojson, a JSON decoder and OPA's conversion of the map, for
// comparison with BenchmarkInputValue.
func BenchmarkRoundTripInput(b *testing.B) {
	req := richRequest(1.5, 1700000000, 0, "/api/books/42?fields=title", "")
	req.Attributes.MetadataContext, req.Attributes.Request.Http.RawBody = nil, nil
	b.ReportAllocs()
	for b.Loop() {
		doc, err := roundTripInput(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ast.InterfaceToValue(doc); err != nil {
			b.Fatal(err)
		}
	}
}
