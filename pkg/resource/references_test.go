package resource

import (
	"reflect"
	"strings"
	"testing"
)

// meshSet is a small valid mesh: reviews (http + tcp ports) with v1 and v2
// workloads, ratings (a static endpoint labelled v9, served by ratings
// and reviews), and db (tcp only).
var meshSet = []string{
	doc(KindService, "reviews", "ports:\n- {name: http, port: 9080, protocol: http}\n- {name: metrics, port: 9100, protocol: tcp}"),
	doc(KindService, "ratings", "ports: [{name: grpc, port: 9090, protocol: grpc}]\nendpoints: [{address: 10.0.1.1, labels: {version: v9}}]\nserviceAccounts: [ratings, reviews]"),
	doc(KindService, "db", "ports: [{name: pg, port: 5432, protocol: tcp}]"),
	doc(KindWorkload, "reviews-v1", "address: 10.0.0.1\nservices: [reviews]\nlabels: {version: v1}\nports: [{name: http, port: 9080}]\nserviceAccount: reviews"),
	doc(KindWorkload, "reviews-v2", "address: 10.0.0.2\nservices: [reviews]\nlabels: {version: v2}\nserviceAccount: reviews"),
}

// checkRefs decodes the mesh set plus extra documents and checks them.
func checkRefs(t *testing.T, extra ...string) ([]string, error) {
	t.Helper()
	return CheckReferences(mustDecode(t, append(append([]string{}, meshSet...), extra...)...))
}

func TestCheckReferencesErrors(t *testing.T) {
	cases := []struct {
		name      string
		extra     []string
		path, msg string
		kind      Kind
		objName   string
	}{
		{name: "route to unknown service", extra: []string{doc(KindRoute, "r", "service: details\nrules:\n- backends: [{}]")},
			path: "spec.service", msg: "service details.default does not exist", kind: KindRoute, objName: "r"},
		{name: "backend to unknown service", extra: []string{doc(KindRoute, "r", "service: reviews\nrules:\n- matches: [{method: GET}]\n  backends: [{}]\n- backends: [{weight: 1}, {service: details, weight: 1}]")},
			path: "spec.rules[1].backends[1].service", msg: "service details.default does not exist", kind: KindRoute, objName: "r"},
		{name: "route port not on service", extra: []string{doc(KindRoute, "r", "service: reviews\nport: 8080\nrules:\n- backends: [{}]")},
			path: "spec.port", msg: "8080 is not a port of service reviews.default (ports: http (9080), metrics (9100))", kind: KindRoute, objName: "r"},
		{name: "route port is tcp", extra: []string{doc(KindRoute, "r", "service: reviews\nport: 9100\nrules:\n- backends: [{}]")},
			path: "spec.port", msg: "port 9100 of service reviews.default is tcp", kind: KindRoute, objName: "r"},
		{name: "route on tcp-only service", extra: []string{doc(KindRoute, "r", "service: db\nrules:\n- backends: [{}]")},
			path: "spec.service", msg: "service db.default has only tcp ports", kind: KindRoute, objName: "r"},
		{name: "traffic policy unknown service", extra: []string{doc(KindTrafficPolicy, "tp", "service: details")},
			path: "spec.service", msg: "service details.default does not exist", kind: KindTrafficPolicy, objName: "tp"},
		{name: "two traffic policies", extra: []string{doc(KindTrafficPolicy, "tp-b", "service: reviews"), doc(KindTrafficPolicy, "tp-a", "service: reviews")},
			path: "spec.service", msg: "merge TrafficPolicies tp-a and tp-b", kind: KindTrafficPolicy, objName: "tp-b"},
		{name: "two routes for one service", extra: []string{doc(KindRoute, "r-b", "service: reviews\nrules:\n- backends: [{}]"), doc(KindRoute, "r-a", "service: reviews\nrules:\n- backends: [{}]")},
			path: "spec.service", msg: "Routes r-a and r-b both apply to every port of service reviews.default", kind: KindRoute, objName: "r-b"},
		{name: "two routes for one port", extra: []string{doc(KindRoute, "r-a", "service: reviews\nport: 9080\nrules:\n- backends: [{}]"), doc(KindRoute, "r-b", "service: reviews\nport: 9080\nrules:\n- backends: [{}]")},
			path: "spec.service", msg: "Routes r-a and r-b both apply to port 9080 of service reviews.default", kind: KindRoute, objName: "r-b"},
		{name: "route for every port and one port", extra: []string{doc(KindRoute, "r-a", "service: reviews\nport: 9080\nrules:\n- backends: [{}]"), doc(KindRoute, "r-b", "service: reviews\nrules:\n- backends: [{}]")},
			path: "spec.service", msg: "Routes r-a and r-b both apply to port 9080", kind: KindRoute, objName: "r-b"},
		{name: "mirror to unknown service", extra: []string{doc(KindRoute, "r", "service: reviews\nrules:\n- backends: [{}]\n  mirror: {service: shadow, percent: 5}")},
			path: "spec.rules[0].mirror.service", msg: "service shadow.default does not exist", kind: KindRoute, objName: "r"},
		{name: "two meshes", extra: []string{doc(KindMesh, "one", "trustDomain: a.org"), doc(KindMesh, "two", "trustDomain: b.org")},
			path: "", msg: "there can be only one Mesh, but Meshes one, two are defined", kind: KindMesh, objName: "two"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkRefs(t, tc.extra...)
			errs := asErrors(t, err)
			hasError(t, errs, tc.path, tc.msg)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.Kind != tc.kind || e.Name != tc.objName {
				t.Errorf("error names %s %s, want %s %s", e.Kind, e.Name, tc.kind, tc.objName)
			}
			if e.File != "test.yaml" || e.Index < len(meshSet) {
				t.Errorf("error should carry the offending document's origin, got file %q document %d", e.File, e.Index)
			}
		})
	}
}

func TestCheckReferencesWarnings(t *testing.T) {
	cases := []struct {
		name  string
		extra []string
		want  []string
	}{
		{name: "valid set", extra: []string{
			doc(KindRoute, "reviews", "service: reviews\nport: 9080\nrules:\n- backends: [{subset: {version: v1}, weight: 1}, {subset: {version: v2}, weight: 1}, {service: ratings, subset: {version: v9}, weight: 1}]"),
			doc(KindTrafficPolicy, "reviews", "service: reviews"),
			doc(KindAuthorizationPolicy, "p", "targets: {services: [reviews]}\nmodules: [{name: a.rego, rego: 'package a'}]"),
		}},
		{name: "subset matches nothing", extra: []string{
			doc(KindRoute, "reviews", "service: reviews\nrules:\n- backends: [{subset: {version: v1}, weight: 1}, {subset: {version: v3, track: canary}, weight: 1}]"),
		}, want: []string{"Route default/reviews: spec.rules[0].backends[1].subset {track=canary,version=v3} matches no workload of service reviews.default yet"}},
		{name: "subset on other service", extra: []string{
			doc(KindRoute, "reviews", "service: reviews\nrules:\n- backends: [{service: ratings, subset: {version: v1}}]"),
		}, want: []string{"Route default/reviews: spec.rules[0].backends[0].subset {version=v1} matches no workload of service ratings.default yet"}},
		{name: "workload before its service", extra: []string{
			doc(KindWorkload, "details-v1", "address: 10.0.0.9\nservices: [details]"),
		}, want: []string{"Workload default/details-v1: spec.services[0] service details.default does not exist yet"}},
		{name: "workload port name", extra: []string{
			doc(KindWorkload, "w", "address: 10.0.0.9\nservices: [reviews, ratings]\nports: [{name: grpc, port: 1}, {name: admin, port: 2}]\nserviceAccount: reviews"),
		}, want: []string{`Workload default/w: spec.ports[1].name port name "admin" is not a port of service reviews.default, ratings.default`}},
		{name: "authorization target", extra: []string{
			doc(KindAuthorizationPolicy, "p", "targets: {services: [reviews, details]}\nmodules: [{name: a.rego, rego: 'package a'}]"),
		}, want: []string{"AuthorizationPolicy default/p: spec.targets.services[1] service details.default does not exist yet"}},
		{name: "sorted", extra: []string{
			doc(KindWorkload, "z", "address: 10.0.0.9\nservices: [zz]"),
			doc(KindAuthorizationPolicy, "p", "targets: {services: [aa]}\nmodules: [{name: a.rego, rego: 'package a'}]"),
		}, want: []string{
			"AuthorizationPolicy default/p: spec.targets.services[0] service aa.default does not exist yet",
			"Workload default/z: spec.services[0] service zz.default does not exist yet",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := checkRefs(t, tc.extra...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(warnings, tc.want) {
				t.Errorf("warnings:\n got %q\nwant %q", warnings, tc.want)
			}
		})
	}
}

func TestCheckReferencesNamespaces(t *testing.T) {
	// A Route only sees services of its own namespace.
	route := strings.Replace(doc(KindRoute, "r", "service: reviews\nrules:\n- backends: [{}]"), "name: r", "name: r\n  namespace: prod", 1)
	_, err := checkRefs(t, route)
	hasError(t, asErrors(t, err), "spec.service", "service reviews.prod does not exist")
}

func TestCheckReferencesWithoutOrigin(t *testing.T) {
	r := &Resource{APIVersion: APIVersion, Kind: KindTrafficPolicy, Metadata: Metadata{Name: "tp", Namespace: "default"},
		Spec: &TrafficPolicySpec{Service: "nope"}}
	_, err := CheckReferences([]*Resource{r})
	errs := asErrors(t, err)
	if errs[0].Index != -1 || errs[0].File != "" {
		t.Errorf("error for a resource without Origin = %+v, want no file and index -1", errs[0])
	}
	if got, want := errs.Error(), "TrafficPolicy default/tp: spec.service: service nope.default does not exist; apply its Service first or fix the name"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckReferencesRoutesOnDistinctPorts(t *testing.T) {
	two := doc(KindService, "multi", "ports:\n- {name: a, port: 80, protocol: http}\n- {name: b, port: 81, protocol: grpc}")
	warnings, err := checkRefs(t, two,
		doc(KindRoute, "multi-a", "service: multi\nport: 80\nrules:\n- backends: [{}]\n  mirror: {service: reviews, subset: {version: v2}, percent: 10}"),
		doc(KindRoute, "multi-b", "service: multi\nport: 81\nrules:\n- backends: [{}]"))
	if err != nil {
		t.Fatalf("Routes on distinct ports of one service must be accepted, got:\n%v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	warnings, err = checkRefs(t, doc(KindRoute, "r", "service: reviews\nrules:\n- backends: [{}]\n  mirror: {subset: {version: v7}, percent: 10}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "spec.rules[0].mirror.subset {version=v7} matches no workload") {
		t.Errorf("want a warning about the mirror subset, got %v", warnings)
	}
}
