package compile

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileRefusesExcludedBuiltinsWithLocation(t *testing.T) {
	cases := map[string]struct{ rego, want string }{
		"http.send": {"package envoy.authz\n\nallow if {\n  http.send({\"method\": \"GET\", \"url\": input.attributes.request.http.path}).status_code == 200\n}\n",
			"authz.rego:4:3: embassy_forbidden_builtin: builtin http.send reaches the network"},
		"net.lookup_ip_addr": {"package envoy.authz\n\nallow if count(net.lookup_ip_addr(\"example.com\")) > 0\n",
			"authz.rego:3:16: embassy_forbidden_builtin: builtin net.lookup_ip_addr reaches the network"},
		"opa.runtime": {"package envoy.authz\n\nallow if opa.runtime().env.HOME != \"\"\n",
			"authz.rego:3:10: embassy_forbidden_builtin: builtin opa.runtime is not available"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile("default/p", spec("authz.rego", c.rego))
			var ces Errors
			if !errors.As(err, &ces) {
				t.Fatalf("want Errors, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestAllowNetworkOptsInToNetworkBuiltinsOnly(t *testing.T) {
	s := spec("authz.rego", "package envoy.authz\n\nallow if http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"}).status_code == 200\n")
	s.AllowNetwork = true
	b, err := Compile("default/p", s)
	if err != nil {
		t.Fatal(err)
	}
	if !b.AllowNetwork() {
		t.Error("the bundle lost allowNetwork")
	}
	without, err := Compile("default/p", spec("authz.rego", "package envoy.authz\n\nallow := true\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Modules[0].Rego = "package envoy.authz\n\nallow := true\n"
	with, err := Compile("default/p", s)
	if err != nil {
		t.Fatal(err)
	}
	if with.Revision() == without.Revision() {
		t.Error("allowNetwork must change the revision: it changes what the agent may do")
	}
	s.Modules[0].Rego = "package envoy.authz\n\nallow if opa.runtime().env.HOME != \"\"\n"
	if _, err := Compile("default/p", s); err == nil || !strings.Contains(err.Error(), "opa.runtime") {
		t.Errorf("opa.runtime must stay refused with allowNetwork, got %v", err)
	}
}
