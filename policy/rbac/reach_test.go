package rbac

import (
	"slices"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"embassy.dev/embassy/pkg/resource"
)

func mayAllow(t *testing.T, rego, principal string) bool {
	t.Helper()
	r, err := Compile([]resource.RegoModule{{Name: "p.rego", Rego: "package envoy.authz\n" + rego}}, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Compiled {
		t.Fatalf("did not compile to RBAC: %s", r.Reason)
	}
	return MayAllow(r.RBAC, principal)
}

// TestMayAllowByIdentity compiles real policies with OPA and asks about
// callers each one names, excludes or does not look at.
func TestMayAllowByIdentity(t *testing.T) {
	const src = "input.attributes.source.principal"
	cases := []struct {
		name, rego, principal string
		want                  bool
	}{
		{"named caller", "allow if " + src + ` == "` + frontend + `"`, frontend, true},
		{"other caller", "allow if " + src + ` == "` + frontend + `"`, checkout, false},
		{"caller in a set", "allow if " + src + ` in {"` + frontend + `", "` + checkout + `"}`, checkout, true},
		{"caller not in a set", "allow if " + src + ` in {"` + frontend + `", "` + checkout + `"}`, banned, false},
		{"namespace prefix", "allow if startswith(" + src + `, "spiffe://mesh.local/ns/shop/")`, banned, true},
		{"other namespace", "allow if startswith(" + src + `, "spiffe://mesh.local/ns/ops/")`, banned, false},
		{"regex", "allow if regex.match(`^spiffe://mesh.local/ns/shop/sa/(front|check)`, " + src + ")", banned, false},
		{"regex matches", "allow if regex.match(`^spiffe://mesh.local/ns/shop/sa/(front|check)`, " + src + ")", checkout, true},
		{"caller and method", "allow if {\n" + src + ` == "` + frontend + `"` + "\ninput.attributes.request.http.method == \"GET\"\n}", checkout, false},
		{"caller and method, named", "allow if {\n" + src + ` == "` + frontend + `"` + "\ninput.attributes.request.http.method == \"GET\"\n}", frontend, true},
		{"everyone but one", "allow if not " + src + ` == "` + banned + `"`, banned, false},
		{"everyone but one, another", "allow if not " + src + ` == "` + banned + `"`, frontend, true},
		{"method only", `allow if input.attributes.request.http.method == "GET"`, banned, true},
		{"source address", `allow if input.attributes.source.address.socketAddress.address == "10.0.0.1"`, banned, true},
		{"denies all", "default allow := false", frontend, false},
		{"two rules, one names the caller", "allow if " + src + ` == "` + frontend + `"` + "\nallow if " + src + ` == "` + checkout + `"`, checkout, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mayAllow(t, c.rego, c.principal); got != c.want {
				t.Errorf("MayAllow(%s) = %v, want %v", c.principal, got, c.want)
			}
		})
	}
}

// TestMayAllowIsSound checks the analysis against the RBAC evaluator over
// every compiled policy of the table and every request with a caller:
// whenever it says a caller can never be allowed, no request of that
// caller is.
func TestMayAllowIsSound(t *testing.T) {
	hidden := 0
	for _, c := range cases {
		if !c.compiled {
			continue
		}
		rules := compileCase(t, c).RBAC
		for i, r := range requests {
			if r.principal == "" || MayAllow(rules, r.principal) {
				continue
			}
			hidden++
			if allows(rules, r.checkRequest()) {
				t.Errorf("%s: MayAllow(%s) is false, but request %d %+v is allowed", c.name, r.principal, i, r)
			}
		}
	}
	if hidden == 0 {
		t.Error("no policy of the table excluded any caller: the test exercises nothing")
	}
}

// TestMayAllowKeepsWhatItCannotRead: rules of a shape the analysis does
// not know keep every caller.
func TestMayAllowKeepsWhatItCannotRead(t *testing.T) {
	deny := &rbacv3.RBAC{Action: rbacv3.RBAC_DENY}
	if !MayAllow(deny, banned) {
		t.Error("a DENY action was read as denying everyone")
	}
	if !MayAllow(nil, banned) {
		t.Error("no rules were read as denying everyone")
	}
}

// TestAllowedPrincipalsAgreesWithMayAllow: wherever AllowedPrincipals
// answers, membership in its set is exactly MayAllow, for every caller
// the table's requests name and every principal the set holds.
func TestAllowedPrincipalsAgreesWithMayAllow(t *testing.T) {
	answered := 0
	for _, c := range cases {
		if !c.compiled {
			continue
		}
		rules := compileCase(t, c).RBAC
		set, ok := AllowedPrincipals(rules)
		if !ok {
			continue
		}
		answered++
		callers := append([]string{"spiffe://mesh.local/ns/other/sa/x"}, set...)
		for _, r := range requests {
			callers = append(callers, r.principal)
		}
		for _, p := range callers {
			if in := slices.Contains(set, p); in != MayAllow(rules, p) {
				t.Errorf("%s: %s in AllowedPrincipals = %v, MayAllow = %v", c.name, p, in, !in)
			}
		}
	}
	if answered == 0 {
		t.Error("AllowedPrincipals answered for no policy of the table")
	}
	named := `allow if input.attributes.source.principal in {"` + frontend + `", "` + checkout + `"}`
	r, err := Compile([]resource.RegoModule{{Name: "p.rego", Rego: "package envoy.authz\n" + named}}, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if set, ok := AllowedPrincipals(r.RBAC); !ok || !slices.Contains(set, frontend) || !slices.Contains(set, checkout) || len(set) != 2 {
		t.Errorf("AllowedPrincipals of a policy naming two callers = %v, %v", set, ok)
	}
}
