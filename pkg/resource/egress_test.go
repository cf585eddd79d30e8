package resource

import (
	"reflect"
	"testing"
)

func TestValidateEgressAndScoping(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "mesh scoping auto", kind: KindMesh, spec: "trustDomain: a.b\nconfigScoping: auto"},
		{name: "mesh per-service routes", kind: KindMesh, spec: "trustDomain: a.b\nsidecarRoutes: perService"},
		{name: "mesh sidecar routes unknown", kind: KindMesh, spec: "trustDomain: a.b\nsidecarRoutes: scoped", path: "spec.sidecarRoutes", msg: `must be one of shared, perService, got "scoped"`},
		{name: "mesh scoping unknown", kind: KindMesh, spec: "trustDomain: a.b\nconfigScoping: sidecar", path: "spec.configScoping", msg: `must be one of none, explicit, auto, got "sidecar"`},
		{name: "workload egress ok", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{service: greet}, {namespace: payments}, {service: ledger, namespace: payments}]"},
		{name: "workload egress empty entry", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{}]", path: "spec.egress[0]", msg: "set service"},
		{name: "workload egress bad service", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{service: Greet}]", path: "spec.egress[0].service", msg: "DNS-1123"},
		{name: "workload egress bad namespace", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{namespace: pay_ments}]", path: "spec.egress[0].namespace", msg: "DNS-1123"},
		{name: "workload egress duplicate", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{service: greet}, {service: greet}]", path: "spec.egress[1]", msg: "duplicate entry service greet (also spec.egress[0])"},
		{name: "workload egress unknown field", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\negress: [{host: greet}]", path: "spec.egress[0].host", msg: "unknown field"},
		{name: "service egress ok", kind: KindService, spec: validService + "egress: [{service: greet}]"},
		{name: "service egress duplicate", kind: KindService, spec: validService + "egress: [{namespace: p}, {namespace: p}]", path: "spec.egress[1]", msg: "duplicate entry namespace p"},
	})
}

func TestCheckReferencesWarnsOfEgressToNothing(t *testing.T) {
	warnings, err := checkRefs(t,
		doc(KindWorkload, "w", "address: 10.0.0.9\nservices: [reviews]\nserviceAccount: reviews\negress: [{service: ratings}, {service: greet}, {namespace: default}, {namespace: payments}]"),
		doc(KindService, "front", "ports: [{name: http, port: 80, protocol: http}]\negress: [{service: db, namespace: other}]"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Service default/front: spec.egress[0] service db.other does not exist yet; its callers are sent nothing for it until it does",
		"Workload default/w: spec.egress[1] service greet.default does not exist yet; its callers are sent nothing for it until it does",
		"Workload default/w: spec.egress[3] namespace payments has no services yet; its callers are sent nothing for it until it does",
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warnings, want)
	}
}
