package agent

import (
	"context"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/dataplane"
)

// CheckWire, the gRPC server's path, answers as Check does before the
// first update, with one policy (answered from the bytes when cached)
// and with two (decoded and combined), and refuses bytes that are not a
// CheckRequest.
func TestAuthzCheckWireAnswersAsCheck(t *testing.T) {
	a := NewAuthz(nil, nil, nil, 1, testAuthzTimeout)
	a.SetDecisionCache(100)
	reqs := []*authv3.CheckRequest{checkRequest("GET", "/"), checkRequest("GET", "/no-x-one"), checkRequest("GET", "/no-x-two")}
	same := func(stage string) {
		t.Helper()
		for _, req := range reqs {
			raw, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second may come from the cache
				out, err := a.CheckWire(context.Background(), raw)
				if err != nil {
					t.Fatalf("%s: %v", stage, err)
				}
				var got authv3.CheckResponse
				if err := proto.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				want, err := a.Check(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := withoutIDs(&got), withoutIDs(want); !proto.Equal(g, w) {
					t.Errorf("%s, %s:\n wire  %v\n Check %v", stage, req.GetAttributes().GetRequest().GetHttp().GetPath(), g, w)
				}
			}
		}
	}
	same("before the first update")
	one := compileWithQuery(t, "shop/one", "x-one")
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: one}}); err != nil {
		t.Fatal(err)
	}
	same("one policy")
	if st := a.Stats(); len(st.Policies) != 1 || st.Policies[0].Cache == nil || st.Policies[0].Cache.Hits == 0 {
		t.Fatalf("no cache hits with one policy: %+v", st.Policies)
	}
	two := compileWithQuery(t, "shop/two", "x-two")
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: one}, {Name: dataplane.AuthzExtensionPrefix + "shop/two", Bundle: two}}); err != nil {
		t.Fatal(err)
	}
	same("two policies")
	if _, err := a.CheckWire(context.Background(), []byte{0x0f}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bytes that are no CheckRequest: %v, want InvalidArgument", err)
	}
}

// withoutIDs is resp with each decision id replaced by "*", keeping how
// many there were.
func withoutIDs(resp *authv3.CheckResponse) *authv3.CheckResponse {
	resp = proto.Clone(resp).(*authv3.CheckResponse)
	if f := resp.GetDynamicMetadata().GetFields(); f["decision_id"] != nil {
		n := len(strings.Split(f["decision_id"].GetStringValue(), ","))
		f["decision_id"] = structpb.NewStringValue(strings.Repeat("*", n))
	}
	return resp
}
