package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/resource"
)

// serviceAPI is Service api of namespace shop, with the default list: only
// service account api may serve it.
const serviceAPI = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  ports:
  - name: http
    port: 8080
    protocol: http
`

// serviceAPIOfA is serviceAPI served by service account a only.
var serviceAPIOfA = strings.Replace(serviceAPI, "spec:\n", "spec:\n  serviceAccounts: [a]\n", 1)

// limitedWebAgent applies Services web and api, both of which
// service account a may serve, and returns an agent attested as web-1
// of shop/a with a single-use token limited to web.
func (e *env) limitedWebAgent() *agent {
	e.t.Helper()
	e.applyYAML(serviceWeb + "---\n" + serviceAPIOfA)
	a := e.agent()
	e.attest(a, e.token("shop", "a", "web-1", time.Hour, true, "web"), "web-1")
	return a
}

// TestRegisterRefusesAServiceTheIdentityMayNotServe checks that an agent
// cannot put itself behind a Service whose list (or default) excludes its
// SPIFFE ID's service account, whether the Service is applied or not, nor
// stay behind one that stops listing it.
func TestRegisterRefusesAServiceTheIdentityMayNotServe(t *testing.T) {
	e := newEnv(t)
	e.applyYAML(serviceWeb + "---\n" + serviceAPI)
	a := e.agent()
	e.attest(a, e.token("shop", "a", "", time.Hour, false), "")
	for _, c := range []struct {
		services []string
		want     string
	}{
		{[]string{"api"}, `service account "a" may not serve service api.shop: the Service's spec.serviceAccounts allows [api] (omitted`},
		{[]string{"web", "api"}, "allows [api]"},
		{[]string{"later"}, "service later.shop: the Service's spec.serviceAccounts allows [later]"},
	} {
		spec := resource.WorkloadSpec{Address: "127.0.0.1", Services: c.services}
		_, err := a.c.Register(ctx(t), "intruder", spec)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), c.want) {
			t.Errorf("registering for %v: %v, want PermissionDenied saying %q", c.services, err, c.want)
		}
	}
	if _, err := e.st.Get(context.Background(), resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "intruder"}); err == nil {
		t.Fatal("a refused registration was stored")
	}
	web1 := resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web"}}
	if _, err := a.c.Register(ctx(t), "web-1", web1); err != nil {
		t.Fatalf("registering for a Service that lists the caller: %v", err)
	}
	// The operator stops listing a: the next refresh is refused, and the
	// registration lapses with its lease.
	e.applyYAML(strings.Replace(serviceWeb, "[a, default]", "[default]", 1))
	if _, err := a.c.Register(ctx(t), "web-1", web1); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("refreshing a registration the Service no longer allows: %v", err)
	}
	e.untilGone("the excluded registration to lapse", resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-1"})
}

// TestTokenServicesLimitRegistration checks that a token made with
// services limits what its agent registers for, across renewals, even
// where the Service would allow the identity.
func TestTokenServicesLimitRegistration(t *testing.T) {
	e := newEnv(t)
	e.applyYAML(serviceWeb + "---\n" + serviceAPIOfA)
	secret, info, err := e.tokens.Create("shop", "a", "", time.Hour, false, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Services) != 1 || info.Services[0] != "web" {
		t.Fatalf("token info %+v", info)
	}
	a := e.agent()
	e.attest(a, secret, "")
	try := func(when string) {
		t.Helper()
		_, err := a.c.Register(ctx(t), "w", resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web", "api"}})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `allows only services [web], not "api"`) {
			t.Fatalf("%s: registering beyond the token's services: %v", when, err)
		}
		if _, err := a.c.Register(ctx(t), "w", resource.WorkloadSpec{Address: "127.0.0.1", Services: []string{"web"}}); err != nil {
			t.Fatalf("%s: registering within them: %v", when, err)
		}
	}
	try("after attestation")
	resp, err := a.c.Renew(ctx(t), a.csr(""))
	if err != nil {
		t.Fatal(err)
	}
	a.take(resp, e.ca.Bundle())
	try("after a renewal")
}
