package extauthz

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// docsInputFence opens docs/authorization.md's example input document.
const docsInputFence = "```json input-example"

// documentedRequest is the request docs/authorization.md describes: a POST
// with a query and a JSON body from the frontend's sidecar to an orders
// workload's sidecar, whose jwt_authn verified alice's token (and removed
// it, as it does unless a provider sets forward).
func documentedRequest(t *testing.T) *authv3.CheckRequest {
	t.Helper()
	claims, err := structpb.NewStruct(map[string]any{
		"iss": "https://id.example.com", "sub": "alice", "aud": []any{"orders"}, "roles": []any{"admin"}, "exp": 1796644800,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"sku":"tea","quantity":2}`
	path := "/orders/42/items?expand=true&tag=a&tag=b"
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:   socketAddr("10.0.0.7", 43512),
			Principal: "spiffe://example.org/ns/shop/sa/frontend",
		},
		Destination: &authv3.AttributeContext_Peer{
			Address:   socketAddr("10.0.0.9", 8080),
			Principal: "spiffe://example.org/ns/shop/sa/orders",
		},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)),
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "12887135376512781934", Method: "POST", Path: path, Host: "orders.shop:8080",
				Scheme: "http", Protocol: "HTTP/1.1", Size: int64(len(body)), Body: body,
				Headers: map[string]string{
					":authority": "orders.shop:8080", ":method": "POST", ":path": path, ":scheme": "http",
					"content-type": "application/json", "content-length": "26", "x-request-id": "5b1c0e5e-2f0a-4c1e-9d0e-6a8f3c2b7d41",
				},
			},
		},
		MetadataContext: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{"users": structpb.NewStructValue(claims)}},
		}},
	}}
}

func socketAddr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// documentedInput returns the JSON block docs/authorization.md shows as
// the input of documentedRequest.
func documentedInput(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), docsInputFence+"\n")
	if !ok {
		t.Fatalf("docs/authorization.md has no %q block", docsInputFence)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("the %q block of docs/authorization.md is not closed", docsInputFence)
	}
	return []byte(block)
}

// TestDocumentedInputIsWhatTheAgentBuilds checks the example input in
// docs/authorization.md field by field against what BuildInput makes of
// the request the docs describe, so the reference cannot drift from the
// code policies are evaluated with.
func TestDocumentedInputIsWhatTheAgentBuilds(t *testing.T) {
	built, err := BuildInput(documentedRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(documentedInput(t), &wantV); err != nil {
		t.Fatalf("the documented input is not JSON: %v", err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Fatalf("docs/authorization.md's example input differs from what the agent builds; the agent builds:\n%s", got)
	}
}
