package resource

import (
	"slices"
	"strings"
	"testing"
)

func TestServiceAccountsValidation(t *testing.T) {
	for _, c := range []struct {
		name, spec, path, msg string
	}{
		{"ok", "ports: [{name: http, port: 80, protocol: http}]\nserviceAccounts: [web, web-canary]", "", ""},
		{"bad name", "ports: [{name: http, port: 80, protocol: http}]\nserviceAccounts: [Web_1]", "spec.serviceAccounts[0]", "DNS-1123"},
		{"empty name", "ports: [{name: http, port: 80, protocol: http}]\nserviceAccounts: [web, \"\"]", "spec.serviceAccounts[1]", "required"},
		{"duplicate", "ports: [{name: http, port: 80, protocol: http}]\nserviceAccounts: [web, web]", "spec.serviceAccounts[1]", `duplicate service account "web" (also spec.serviceAccounts[0])`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode("svc.yaml", []byte(doc(KindService, "web", c.spec)))
			if c.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %s: %s", err, c.path, c.msg)
			}
		})
	}
}

func TestAllowedServiceAccountsDefault(t *testing.T) {
	if got := AllowedServiceAccounts("greet", &ServiceSpec{}); !slices.Equal(got, []string{"greet"}) {
		t.Errorf("omitted list: %v, want only the service account named like the Service", got)
	}
	if got := AllowedServiceAccounts("greet", nil); !slices.Equal(got, []string{"greet"}) {
		t.Errorf("Service not applied: %v", got)
	}
	if got := AllowedServiceAccounts("greet", &ServiceSpec{ServiceAccounts: []string{"a", "b"}}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("explicit list: %v", got)
	}
	if MayServe("greet", &ServiceSpec{}, DefaultServiceAccount) || !MayServe("greet", nil, "greet") {
		t.Error("MayServe does not follow the default")
	}
	if got := (&WorkloadSpec{}).Identity(); got != DefaultServiceAccount {
		t.Errorf("a Workload without a service account is %q", got)
	}
}

func TestExclusionsAreWarnings(t *testing.T) {
	warnings, err := checkRefs(t, doc(KindWorkload, "intruder", "address: 10.0.0.9\nservices: [ratings, reviews]\nserviceAccount: ratings"))
	if err != nil {
		t.Fatal(err)
	}
	want := `Workload default/intruder: spec.services[1] service account "ratings" may not serve service reviews.default: the Service's spec.serviceAccounts allows [reviews] (omitted: only the service account named like the Service); list "ratings" there, or run the workload as one of those; it gets no traffic from that service`
	if !slices.Equal(warnings, []string{want}) {
		t.Fatalf("warnings %q, want %q", warnings, want)
	}
}
