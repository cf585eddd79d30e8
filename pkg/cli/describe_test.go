package cli

import (
	"bytes"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/resource"
)

func TestGoldenDescribe(t *testing.T) {
	byKind := fixtureResources(t)
	var all []*resource.Resource
	for _, k := range resource.Kinds {
		all = append(all, byKind[k]...)
	}
	services := &apiwire.ServicesResponse{Services: []apiwire.ServiceStatus{{Name: "echo", Namespace: "default", Ports: byKind[resource.KindService][0].Spec.(*resource.ServiceSpec).Ports,
		Endpoints: []apiwire.EndpointStatus{
			{Address: "10.0.0.1", Ports: map[string]uint32{"http": 8080}, Labels: map[string]string{"version": "v1"}, Locality: resource.Locality{Region: "eu-west", Zone: "eu-west-1b"}, Workload: "echo-v1", Health: apiwire.HealthRegistered},
			{Address: "10.0.0.2", Ports: map[string]uint32{"http": 8080}, Labels: map[string]string{"track": "canary", "version": "v2"}, Workload: "echo-v2", Health: apiwire.HealthRegistered},
			{Address: "10.0.0.9", Ports: map[string]uint32{"http": 8080, "grpc": 9090}, Labels: map[string]string{"version": "legacy"}, Health: apiwire.HealthUnknown},
		},
		Excluded: []apiwire.ExcludedWorkload{{Workload: "echo-x", Address: "10.0.0.66", ServiceAccount: "echo-client"}}}}}
	policies := &apiwire.PoliciesResponse{Policies: []apiwire.PolicyStatus{
		{Namespace: "default", Name: "echo-authz", Revision: "3a9f", Compiled: true, Enforcement: apiwire.EnforcedByExtAuthz, Reason: "reads the request body", Location: "authz.rego:5",
			Mode: "dry-run", Workloads: []string{"default/echo-v1", "default/echo-v2"}, Proxies: []apiwire.PolicyProxy{{ID: "echo-v1.default", AckedRevision: "3a9f", Current: true,
				Decisions: &apiwire.ProxyDecisions{Revision: "3a9f", DecisionCounts: apiwire.DecisionCounts{Allow: 40, WouldDeny: 2}}}, {ID: "echo-v2.default"}},
			Decisions: apiwire.DecisionCounts{Allow: 40, WouldDeny: 2}},
		{Namespace: "default", Name: "canary-only", Revision: "77b0", Compiled: true, Enforcement: apiwire.EnforcedByRBAC, Mode: "enforce", Workloads: []string{"default/echo-v2"}},
	}}
	cases := []struct {
		name     string
		r        *resource.Resource
		policies *apiwire.PoliciesResponse
	}{
		{"describe-mesh", byKind[resource.KindMesh][0], policies},
		{"describe-service", byKind[resource.KindService][0], policies},
		{"describe-service-without-status", byKind[resource.KindService][1], nil},
		{"describe-workload", byKind[resource.KindWorkload][1], policies},
		{"describe-route", byKind[resource.KindRoute][0], policies},
		{"describe-trafficpolicy", byKind[resource.KindTrafficPolicy][0], policies},
		{"describe-authorizationpolicy", byKind[resource.KindAuthorizationPolicy][0], policies},
		{"describe-authorizationpolicy-no-status", byKind[resource.KindAuthorizationPolicy][1], nil},
	}
	for _, c := range cases {
		var b bytes.Buffer
		svcs := services
		if c.policies == nil {
			svcs = nil
		}
		if err := Describe(&b, c.r, FindRelated(c.r, all, svcs, c.policies), narrow); err != nil {
			t.Fatal(err)
		}
		checkFits(t, b.String(), 80)
		golden(t, c.name, b.String())
	}
}

func TestFindRelatedForAService(t *testing.T) {
	byKind := fixtureResources(t)
	var all []*resource.Resource
	for _, k := range resource.Kinds {
		all = append(all, byKind[k]...)
	}
	svc := byKind[resource.KindService][0]
	// Without the server's policy status a selector cannot be matched to
	// the service's endpoints: only the policy naming echo targets it.
	rel := FindRelated(svc, all, nil, nil)
	if len(rel.Routes) != 1 || len(rel.TrafficPolicies) != 1 || len(rel.AuthorizationPolicies) != 1 {
		t.Fatalf("related = %d routes, %d traffic policies, %d authorization policies", len(rel.Routes), len(rel.TrafficPolicies), len(rel.AuthorizationPolicies))
	}
	// With it, the canary selector reaches echo through echo-v2.
	services := &apiwire.ServicesResponse{Services: []apiwire.ServiceStatus{{Name: "echo", Namespace: "default", Endpoints: []apiwire.EndpointStatus{{Address: "10.0.0.2", Workload: "echo-v2"}}}}}
	policies := &apiwire.PoliciesResponse{Policies: []apiwire.PolicyStatus{{Namespace: "default", Name: "canary-only", Workloads: []string{"default/echo-v2"}}}}
	rel = FindRelated(svc, all, services, policies)
	var names []string
	for _, p := range rel.AuthorizationPolicies {
		names = append(names, p.Metadata.Name)
	}
	if strings.Join(names, ",") != "echo-authz,canary-only" {
		t.Fatalf("authorization policies = %v", names)
	}
	// A workload is targeted by its labels as well as its services.
	rel = FindRelated(byKind[resource.KindWorkload][0], all, nil, nil)
	if len(rel.AuthorizationPolicies) != 1 || rel.AuthorizationPolicies[0].Metadata.Name != "echo-authz" {
		t.Fatalf("echo-v1 (track=stable) is targeted by %v", rel.AuthorizationPolicies)
	}
}
