package resource

import (
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that what it accepts is
// valid and survives ToYAML → Decode unchanged, and that what it refuses
// comes back as a non-empty *Errors.
func FuzzDecode(f *testing.F) {
	for _, d := range meshSet {
		f.Add([]byte(d))
	}
	seeds := []string{
		string(join(meshSet...)),
		doc(KindMesh, "mesh", "trustDomain: example.org\nmtls: {mode: PERMISSIVE}\nca: {type: provided, certFile: c.pem, keyFile: k.pem}\nsvidTTL: 24h"),
		doc(KindRoute, "r", "service: reviews\nport: 9080\nrules:\n- matches: [{path: {exact: /a}, headers: [{name: h, prefix: 'on'}]}]\n  backends: [{subset: {v: '1'}, weight: 3}, {service: ratings, weight: 0}]\n  timeout: 1s\n  retries: {attempts: 3, perTryTimeout: 100ms, retryOn: [reset, unavailable]}"),
		doc(KindTrafficPolicy, "t", "service: reviews\nloadBalancer: {policy: MAGLEV, hashHeader: x-user}\nconnectTimeout: 250ms"),
		doc(KindMesh, "mesh", "trustDomain: example.org\nconfigScoping: auto"),
		doc(KindWorkload, "w", "address: 10.0.0.1\nservices: [a]\negress: [{service: b}, {namespace: n}, {service: c, namespace: n}, {}]"),
		doc(KindAuthorizationPolicy, "p", "targets: {services: [a], selector: {matchLabels: {app: a}}}\nmodules: [{name: a.rego, rego: \"package a\\nallow := true\"}]\ndata: {x: [1, 2.5, 'no', null, {y: ~}]}\nquery: data.a.allow"),
		"---\n---\n# nothing\n",
		doc(KindRoute, "r", "service: a\nrules:\n- backends: [{weight: -5}]"),
		doc(KindRoute, "r", "service: a\nrules:\n- matchs: []"),
		"apiVersion: embassy.dev/v1alpha1\nkind: Gateway\nmetadata: {name: x}\n",
		"a: b: c\n",
		"key: [unclosed\n",
		"- just\n- a list\n",
		"apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: s, labels: {a: 1}}\nspec: {ports: [{name: a, port: 99999999999, protocol: tcp}]}\n",
		"apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{name: a, port: 1, protocol: tcp}]}\nspec: {}\n",
		"&a [*a]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Decode("fuzz.yaml", data)
		partial, perr := DecodePartial("fuzz.yaml", data)
		if (err == nil) != (perr == nil) || (err != nil && err.Error() != perr.Error()) {
			t.Fatalf("DecodePartial's error %v differs from Decode's %v", perr, err)
		}
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || errs == nil || len(*errs) == 0 {
				t.Fatalf("error is %T %v, want a non-empty *Errors", err, err)
			}
			if rs != nil {
				t.Fatalf("Decode returned %d resources with an error", len(rs))
			}
			// The documents DecodePartial returns beside the error decoded
			// and validated on their own.
			for _, r := range partial {
				if verr := Validate(r); verr != nil {
					t.Fatalf("a partially decoded resource fails Validate: %v", verr)
				}
			}
			return
		}
		if len(partial) != len(rs) {
			t.Fatalf("DecodePartial gave %d resources, Decode %d", len(partial), len(rs))
		}
		for _, r := range rs {
			if verr := Validate(r); verr != nil {
				t.Fatalf("decoded resource fails Validate: %v", verr)
			}
		}
		out, err := ToYAML(rs)
		if err != nil {
			t.Fatalf("ToYAML: %v", err)
		}
		back, err := Decode("round.yaml", out)
		if err != nil {
			t.Fatalf("Decode(ToYAML(...)) failed: %v\nYAML:\n%s", err, out)
		}
		if len(back) != len(rs) {
			t.Fatalf("round trip gave %d resources, want %d\nYAML:\n%s", len(back), len(rs), out)
		}
		for i := range rs {
			if !Equal(rs[i], back[i]) {
				t.Fatalf("resource %d (%s) changed in the round trip\nYAML:\n%s", i, rs[i].Key(), out)
			}
		}
	})
}
