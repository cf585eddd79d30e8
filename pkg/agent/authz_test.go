package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/spiffe"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/extauthz"
)

// Two allowing policies both edit the upstream request; the decision ids
// of both are kept. A deny from either is the answer.
func TestAuthzCombinesPolicies(t *testing.T) {
	a := NewAuthz(nil, nil, nil, 1, testAuthzTimeout)
	one := compileWithQuery(t, "shop/one", "x-one")
	two := compileWithQuery(t, "shop/two", "x-two")
	if err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/two", Bundle: two}, {Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: one}}); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Check(context.Background(), checkRequest("GET", "/"))
	if err != nil {
		t.Fatal(err)
	}
	okr := resp.GetOkResponse()
	if resp.GetStatus().GetCode() != codeOK || okr == nil {
		t.Fatalf("answer %v, want an allow", resp)
	}
	if got := headerKeys(okr.GetHeaders()); got != "x-one,x-two" {
		t.Errorf("upstream headers %s, want both policies' in name order", got)
	}
	meta := resp.GetDynamicMetadata().GetFields()
	if ids := strings.Split(meta["decision_id"].GetStringValue(), ","); len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("decision_id %q, want both decisions", meta["decision_id"].GetStringValue())
	}
	if by := meta["by"].GetStringValue(); by != "x-one" {
		t.Errorf("dynamic metadata by = %q, want the first policy's", by)
	}
	resp, err = a.Check(context.Background(), checkRequest("GET", "/no-x-two"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != codeDenied || extauthz.EnvoyStatus(resp) != 403 {
		t.Errorf("answer %v, want shop/two's 403", resp)
	}
	st := a.Stats()
	if len(st.Policies) != 2 || st.Policies[0].Allow != 2 || st.Policies[1].Allow != 1 || st.Policies[1].Deny != 1 {
		t.Errorf("stats %+v: every policy decides every request", st.Policies)
	}
}

// compileWithQuery compiles a policy whose result object adds header and
// denies the path "/no-<header>".
func compileWithQuery(t *testing.T, name, header string) *compile.Bundle {
	t.Helper()
	return compilePolicy(t, name, `result := {
	"allowed": input.attributes.request.http.path != "/no-`+header+`",
	"headers": {"`+header+`": "yes"},
	"dynamic_metadata": {"by": "`+header+`"},
}`, func(s *resource.AuthorizationPolicySpec) { s.Query = "data.envoy.authz.result" })
}

func headerKeys(hs []*corev3.HeaderValueOption) string {
	keys := make([]string, len(hs))
	for i, h := range hs {
		keys[i] = h.GetHeader().GetKey()
	}
	return strings.Join(keys, ",")
}

// A policy sent twice in one response is refused; a bundle under another
// policy's name is refused too.
func TestAuthzRefusesConfusedResponses(t *testing.T) {
	a := NewAuthz(nil, nil, nil, 1, testAuthzTimeout)
	b := compilePolicy(t, "shop/one", "default allow := true")
	err := a.Update([]PolicyUpdate{{Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: b}, {Name: dataplane.AuthzExtensionPrefix + "shop/one", Bundle: b}})
	if err == nil || !strings.Contains(err.Error(), "sent twice") {
		t.Errorf("duplicate: %v", err)
	}
	up := decodePolicy(policyResource(t, "shop/other", b))
	if up.Err == nil || !strings.Contains(up.Err.Error(), `named "shop/one"`) || !strings.Contains(up.Err.Error(), b.Revision()) {
		t.Errorf("misnamed bundle: %v", up.Err)
	}
	bad := rawPolicyResource(t, "shop/tampered", []byte(`{"name":"shop/tampered","revision":"0011223344556677","modules":[{"name":"a.rego","rego":"package envoy.authz\nallow := true"}],"query":"data.envoy.authz.allow","mode":"enforce","failureMode":"deny","regoVersion":"v1"}`))
	if up := decodePolicy(bad); up.Err == nil || !strings.Contains(up.Err.Error(), "shop/tampered revision 0011223344556677") {
		t.Errorf("tampered bundle: %v", up.Err)
	}
}

// The control plane is trusted only with a chain to the bundle and the
// control plane's SPIFFE ID: go-spiffe's verification as DialPolicyXDS
// configures it.
func TestVerifyControlPlane(t *testing.T) {
	verifyControlPlane := func(td spiffeid.TrustDomain, roots []*x509.Certificate) func([][]byte, [][]*x509.Certificate) error {
		return tlsconfig.VerifyPeerCertificate(x509bundle.FromX509Authorities(td, roots), spiffe.AuthorizeControlPlane())
	}
	ca := newTestCA(t)
	leaf := func(id spiffeid.ID) [][]byte {
		_, resp := ca.signedFor(t, id, time.Hour)
		return resp.Chain
	}
	verify := verifyControlPlane(testTD, []*x509.Certificate{ca.root})
	if err := verify(leaf(dataplane.ControlPlaneID(testTD)), nil); err != nil {
		t.Errorf("the control plane: %v", err)
	}
	if err := verify(leaf(testID), nil); err == nil || !strings.Contains(err.Error(), "not the control plane") {
		t.Errorf("a workload posing as the control plane: %v", err)
	}
	other := newTestCA(t)
	if err := verifyControlPlane(testTD, []*x509.Certificate{other.root})(leaf(dataplane.ControlPlaneID(testTD)), nil); err == nil {
		t.Error("a chain to another CA was trusted")
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:9191": true, "localhost:0": true, "0.0.0.0:9191": false, "10.0.0.7:9191": false, "127.0.0.1": false} {
		if _, err := loopbackPort(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// Failed dials are retried with a growing backoff; once a stream answers,
// the policies load.
func TestPolicyClientBacksOff(t *testing.T) {
	ps := startPolicyServer(t)
	b := compilePolicy(t, "shop/one", "default allow := true")
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/one", b))
	var mu sync.Mutex
	var at []time.Time
	dial := func(ctx context.Context, id *Identity) (*grpc.ClientConn, error) {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) <= 3 {
			return nil, errors.New("control plane down")
		}
		return ps.dial(ctx, id)
	}
	a := NewAuthz(nil, nil, nil, 1, testAuthzTimeout)
	c := NewPolicyClient(PolicyClientConfig{Node: "web-1.shop", Dial: dial, Authz: a, MinBackoff: 40 * time.Millisecond, MaxBackoff: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ps.answer(t, false, "v1")
	if a.Revisions()["shop/one"] != b.Revision() {
		t.Errorf("revisions %v", a.Revisions())
	}
	mu.Lock()
	defer mu.Unlock()
	gaps := []time.Duration{at[1].Sub(at[0]), at[2].Sub(at[1]), at[3].Sub(at[2])}
	if gaps[0] < 40*time.Millisecond || gaps[1] < 80*time.Millisecond || gaps[2] < 160*time.Millisecond {
		t.Errorf("retries after %v, want 40ms, 80ms, 160ms at least", gaps)
	}
}

var _ authv3.AuthorizationServer = (*Authz)(nil)

// testAuthzTimeout replaces the production Check deadline, tuned for
// Envoy's, in tests that are not about the deadline: a loaded machine must
// not turn their allows into fail-closed denials.
const testAuthzTimeout = time.Minute
