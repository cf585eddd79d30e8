package resource

import (
	"testing"
)

// validService is a Service the Route and policy cases can lean on.
const validService = `ports:
- {name: http, port: 9080, protocol: http}
`

func TestValidateSpecRules(t *testing.T) {
	runSpecCases(t, []specCase{
		// Mesh.
		{name: "mesh ok", kind: KindMesh, spec: "trustDomain: example.org\nmtls: {mode: PERMISSIVE}\nca: {type: spire, socketPath: /run/spire.sock}\nsvidTTL: 1h"},
		{name: "mesh trust domain missing", kind: KindMesh, spec: "svidTTL: 1h", path: "spec.trustDomain", msg: "required"},
		{name: "mesh trust domain uppercase", kind: KindMesh, spec: "trustDomain: Example.org", path: "spec.trustDomain", msg: "SPIFFE trust domain"},
		{name: "mesh trust domain with scheme", kind: KindMesh, spec: "trustDomain: spiffe://example.org", path: "spec.trustDomain", msg: "SPIFFE trust domain"},
		{name: "mesh mtls mode", kind: KindMesh, spec: "trustDomain: a.b\nmtls: {mode: strict}", path: "spec.mtls.mode", msg: `must be one of STRICT, PERMISSIVE, DISABLED, got "strict"`},
		{name: "mesh ca type", kind: KindMesh, spec: "trustDomain: a.b\nca: {type: vault}", path: "spec.ca.type", msg: "must be one of builtin, provided, spire"},
		{name: "mesh provided needs cert", kind: KindMesh, spec: "trustDomain: a.b\nca: {type: provided, keyFile: k.pem}", path: "spec.ca.certFile", msg: "required when type is provided"},
		{name: "mesh provided needs key", kind: KindMesh, spec: "trustDomain: a.b\nca: {type: provided, certFile: c.pem}", path: "spec.ca.keyFile", msg: "required when type is provided"},
		{name: "mesh spire needs socket", kind: KindMesh, spec: "trustDomain: a.b\nca: {type: spire}", path: "spec.ca.socketPath", msg: "required when type is spire"},
		{name: "mesh ttl unparsable", kind: KindMesh, spec: "trustDomain: a.b\nsvidTTL: 1day", path: "spec.svidTTL", msg: "must be a duration"},
		{name: "mesh ttl too short", kind: KindMesh, spec: "trustDomain: a.b\nsvidTTL: 9s", path: "spec.svidTTL", msg: "must be from 10s to 720h0m0s, got 9s"},
		{name: "mesh ttl too long", kind: KindMesh, spec: "trustDomain: a.b\nsvidTTL: 721h", path: "spec.svidTTL", msg: "must be from 10s"},
		{name: "mesh ttl bounds ok", kind: KindMesh, spec: "trustDomain: a.b\nsvidTTL: 10s"},

		// Service.
		{name: "service ok", kind: KindService, spec: validService + "endpoints:\n- {address: '2001:db8::1', port: 80, labels: {v: a}}"},
		{name: "service no ports", kind: KindService, spec: "ports: []", path: "spec.ports", msg: "at least one port"},
		{name: "service port zero", kind: KindService, spec: "ports: [{name: http, port: 0, protocol: http}]", path: "spec.ports[0].port", msg: "must be from 1 to 65535, got 0"},
		{name: "service port too big", kind: KindService, spec: "ports: [{name: http, port: 70000, protocol: http}]", path: "spec.ports[0].port", msg: "got 70000"},
		{name: "service port name missing", kind: KindService, spec: "ports: [{port: 80, protocol: http}]", path: "spec.ports[0].name", msg: "required"},
		{name: "service port name not a label", kind: KindService, spec: "ports: [{name: HTTP_1, port: 80, protocol: http}]", path: "spec.ports[0].name", msg: "DNS-1123 label"},
		{name: "service duplicate port name", kind: KindService, spec: "ports: [{name: a, port: 80, protocol: http}, {name: a, port: 81, protocol: http}]", path: "spec.ports[1].name", msg: `duplicate port name "a"`},
		{name: "service duplicate port", kind: KindService, spec: "ports: [{name: a, port: 80, protocol: http}, {name: b, port: 80, protocol: grpc}]", path: "spec.ports[1].port", msg: "duplicate port 80"},
		{name: "service protocol missing", kind: KindService, spec: "ports: [{name: a, port: 80}]", path: "spec.ports[0].protocol", msg: "must be one of http, http2, grpc, tcp"},
		{name: "service protocol unknown", kind: KindService, spec: "ports: [{name: a, port: 80, protocol: udp}]", path: "spec.ports[0].protocol", msg: `got "udp"`},
		{name: "service target port", kind: KindService, spec: "ports: [{name: a, port: 80, protocol: tcp, targetPort: 65536}]", path: "spec.ports[0].targetPort", msg: "must be from 0 to 65535"},
		{name: "service endpoint hostname", kind: KindService, spec: validService + "endpoints: [{address: db.local}]", path: "spec.endpoints[0].address", msg: "must be an IP address"},
		{name: "service endpoint port", kind: KindService, spec: validService + "endpoints: [{address: 10.0.0.1, port: 99999}]", path: "spec.endpoints[0].port", msg: "must be from 0 to 65535"},

		// Workload.
		{name: "workload ok", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [reviews]\nports: [{name: http, port: 15001, appPort: 9080}]\nserviceAccount: reviews"},
		{name: "workload address", kind: KindWorkload, spec: "address: 10.0.0\nservices: [reviews]", path: "spec.address", msg: "must be an IP address"},
		{name: "workload address missing", kind: KindWorkload, spec: "services: [reviews]", path: "spec.address", msg: "required"},
		{name: "workload no services", kind: KindWorkload, spec: "address: 10.0.0.7", path: "spec.services", msg: "at least one service"},
		{name: "workload service label", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [Reviews]", path: "spec.services[0]", msg: "DNS-1123"},
		{name: "workload port name", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\nports: [{port: 80}]", path: "spec.ports[0].name", msg: "required"},
		{name: "workload port zero", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\nports: [{name: http, port: 0}]", path: "spec.ports[0].port", msg: "must be from 1 to 65535"},
		{name: "workload app port on the sidecar's", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\nports: [{name: http, port: 80, appPort: 15001}]", path: "spec.ports[0].appPort", msg: "15001 is where the sidecar listens for its apps' outbound HTTP"},
		{name: "workload app port", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\nports: [{name: http, port: 80, appPort: 65536}]", path: "spec.ports[0].appPort", msg: "must be from 0 to 65535"},
		{name: "workload service account", kind: KindWorkload, spec: "address: 10.0.0.7\nservices: [a]\nserviceAccount: svc_acct", path: "spec.serviceAccount", msg: "DNS-1123"},

		// Route.
		{name: "route ok", kind: KindRoute, spec: "service: reviews\nport: 9080\nrules:\n- matches: [{path: {prefix: /api}, headers: [{name: x-user, exact: jason}]}]\n  backends: [{subset: {version: v1}, weight: 90}, {subset: {version: v2}, weight: 10}]\n  timeout: 2s\n  retries: {attempts: 3, perTryTimeout: 500ms, retryOn: [5xx, unavailable]}"},
		{name: "route single backend without weight", kind: KindRoute, spec: "service: reviews\nrules:\n- backends: [{}]"},
		{name: "route service missing", kind: KindRoute, spec: "rules:\n- backends: [{}]", path: "spec.service", msg: "required"},
		{name: "route port", kind: KindRoute, spec: "service: a\nport: 65536\nrules:\n- backends: [{}]", path: "spec.port", msg: "must be from 0 to 65535"},
		{name: "route no rules", kind: KindRoute, spec: "service: a", path: "spec.rules", msg: "at least one rule"},
		{name: "route path both", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{path: {exact: /a, prefix: /b}}]\n  backends: [{}]", path: "spec.rules[0].matches[0].path", msg: "exactly one of exact, prefix or regex"},
		{name: "route path neither", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{path: {}}]\n  backends: [{}]", path: "spec.rules[0].matches[0].path", msg: "exactly one of exact, prefix or regex"},
		{name: "route path no slash", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{path: {prefix: api}}]\n  backends: [{}]", path: "spec.rules[0].matches[0].path.prefix", msg: "must start with '/'"},
		{name: "route header name", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{}, {headers: [{exact: x}]}]\n  backends: [{}]", path: "spec.rules[0].matches[1].headers[0].name", msg: "required"},
		{name: "route header both", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{headers: [{name: h, exact: x, prefix: z}]}]\n  backends: [{}]", path: "spec.rules[0].matches[0].headers[0]", msg: "exactly one of exact, prefix, suffix, regex, present or absent"},
		{name: "route header neither", kind: KindRoute, spec: "service: a\nrules:\n- matches: [{headers: [{name: h}]}]\n  backends: [{}]", path: "spec.rules[0].matches[0].headers[0]", msg: "exactly one of exact, prefix, suffix, regex, present or absent"},
		{name: "route no backends", kind: KindRoute, spec: "service: a\nrules:\n- name: r", path: "spec.rules[0].backends", msg: "at least one backend"},
		{name: "route negative weight", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{weight: 1}, {weight: -5}]", path: "spec.rules[0].backends[1].weight", msg: "must be >= 0, got -5"},
		{name: "route all weights zero", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{weight: 0}, {weight: 0}]", path: "spec.rules[0].backends", msg: "all weights are 0"},
		{name: "route lone weight zero", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{weight: 0}]", path: "spec.rules[0].backends", msg: "all weights are 0"},
		{name: "route weight missing among several", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{weight: 1}, {service: b}]", path: "spec.rules[0].backends[1].weight", msg: "required when a rule has more than one backend"},
		{name: "route backend service label", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{service: B}]", path: "spec.rules[0].backends[0].service", msg: "DNS-1123"},
		{name: "route timeout unparsable", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  timeout: soon", path: "spec.rules[0].timeout", msg: "must be a duration"},
		{name: "route timeout zero", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  timeout: 0s", path: "spec.rules[0].timeout", msg: "must be > 0"},
		{name: "route retries attempts zero", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 0}", path: "spec.rules[0].retries.attempts", msg: "must be from 1 to 10, got 0"},
		{name: "route retries attempts eleven", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 11}", path: "spec.rules[0].retries.attempts", msg: "got 11"},
		{name: "route per try negative", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 2, perTryTimeout: -1s}", path: "spec.rules[0].retries.perTryTimeout", msg: "must be > 0"},
		{name: "route per try exceeds timeout", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  timeout: 1s\n  retries: {attempts: 2, perTryTimeout: 2s}", path: "spec.rules[0].retries.perTryTimeout", msg: "must not exceed the rule's timeout 1s"},
		{name: "route per try equals timeout", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  timeout: 1s\n  retries: {attempts: 2, perTryTimeout: 1000ms}"},
		{name: "route retry on unknown", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 2, retryOn: [5xx, '503']}", path: "spec.rules[0].retries.retryOn[1]", msg: `got "503"`},
		{name: "route retry on all known", kind: KindRoute, spec: "service: a\nrules:\n- backends: [{}]\n  retries: {attempts: 2, retryOn: [5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable]}"},

		// TrafficPolicy.
		{name: "traffic policy ok", kind: KindTrafficPolicy, spec: "service: a\nloadBalancer: {policy: RING_HASH, hashHeader: x-user}\nconnectTimeout: 1s"},
		{name: "traffic policy service", kind: KindTrafficPolicy, spec: "connectTimeout: 1s", path: "spec.service", msg: "required"},
		{name: "traffic policy lb", kind: KindTrafficPolicy, spec: "service: a\nloadBalancer: {policy: WEIGHTED}", path: "spec.loadBalancer.policy", msg: "must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV"},
		{name: "traffic policy maglev needs header", kind: KindTrafficPolicy, spec: "service: a\nloadBalancer: {policy: MAGLEV}", path: "spec.loadBalancer", msg: "MAGLEV needs a hash key"},
		{name: "traffic policy header without hashing", kind: KindTrafficPolicy, spec: "service: a\nloadBalancer: {policy: ROUND_ROBIN, hashHeader: x}", path: "spec.loadBalancer.hashHeader", msg: "only applies to RING_HASH and MAGLEV"},
		{name: "traffic policy connect timeout", kind: KindTrafficPolicy, spec: "service: a\nconnectTimeout: 0s", path: "spec.connectTimeout", msg: "must be > 0"},

		// AuthorizationPolicy.
		{name: "authz ok", kind: KindAuthorizationPolicy, spec: "targets: {services: [reviews]}\nmodules: [{name: authz.rego, rego: 'package envoy.authz'}]\ndata: {users: [alice]}\nquery: data.envoy.authz.allow\nmode: dry-run\nfailureMode: allow\nregoVersion: v0"},
		{name: "authz selector ok", kind: KindAuthorizationPolicy, spec: "targets: {selector: {matchLabels: {app: a}}}\nmodules: [{name: a.rego, rego: 'package a'}]"},
		{name: "authz no targets", kind: KindAuthorizationPolicy, spec: "targets: {}\nmodules: [{name: a.rego, rego: 'package a'}]", path: "spec.targets", msg: "at least one service or a selector"},
		{name: "authz empty selector", kind: KindAuthorizationPolicy, spec: "targets: {selector: {matchLabels: {}}}\nmodules: [{name: a.rego, rego: 'package a'}]", path: "spec.targets", msg: "at least one service or a selector"},
		{name: "authz no modules", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}", path: "spec.modules", msg: "at least one Rego module"},
		{name: "authz module name", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.txt, rego: 'package a'}]", path: "spec.modules[0].name", msg: "ending in .rego"},
		{name: "authz module empty", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: '  '}]", path: "spec.modules[0].rego", msg: "required"},
		{name: "authz data list", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\ndata: [1, 2]", path: "spec.data", msg: "must be a JSON object"},
		{name: "authz data scalar", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\ndata: 5", path: "spec.data", msg: "must be a JSON object"},
		{name: "authz mode", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\nmode: audit", path: "spec.mode", msg: "must be one of enforce, dry-run"},
		{name: "authz failure mode", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\nfailureMode: open", path: "spec.failureMode", msg: "must be one of deny, allow"},
		{name: "authz rego version", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\nregoVersion: v2", path: "spec.regoVersion", msg: "must be one of v1, v0"},
		{name: "authz query", kind: KindAuthorizationPolicy, spec: "targets: {services: [a]}\nmodules: [{name: a.rego, rego: 'package a'}]\nquery: envoy.authz.allow", path: "spec.query", msg: `must start with "data."`},
	})
}

func TestValidateEnvelope(t *testing.T) {
	svc := func() *Resource {
		return &Resource{APIVersion: APIVersion, Kind: KindService,
			Metadata: Metadata{Name: "reviews", Namespace: "default"},
			Spec:     &ServiceSpec{Ports: []ServicePort{{Name: "http", Port: 80, Protocol: ProtocolHTTP}}}}
	}
	cases := []struct {
		name      string
		mutate    func(r *Resource)
		path, msg string
	}{
		{name: "valid", mutate: func(*Resource) {}},
		{name: "api version", mutate: func(r *Resource) { r.APIVersion = "v1" }, path: "apiVersion", msg: "must be embassy.dev/v1alpha1"},
		{name: "kind", mutate: func(r *Resource) { r.Kind = "Gateway" }, path: "kind", msg: `unknown kind "Gateway"; expected one of Mesh, Service`},
		{name: "name missing", mutate: func(r *Resource) { r.Metadata.Name = "" }, path: "metadata.name", msg: "required"},
		{name: "name uppercase", mutate: func(r *Resource) { r.Metadata.Name = "Reviews" }, path: "metadata.name", msg: "DNS-1123 label"},
		{name: "name leading dash", mutate: func(r *Resource) { r.Metadata.Name = "-a" }, path: "metadata.name", msg: "DNS-1123 label"},
		{name: "name dot", mutate: func(r *Resource) { r.Metadata.Name = "a.b" }, path: "metadata.name", msg: "DNS-1123 label"},
		{name: "name too long", mutate: func(r *Resource) { r.Metadata.Name = string(make([]byte, 64)) }, path: "metadata.name", msg: "at most 63 characters, got 64"},
		{name: "namespace missing", mutate: func(r *Resource) { r.Metadata.Namespace = "" }, path: "metadata.namespace", msg: "required"},
		{name: "namespace bad", mutate: func(r *Resource) { r.Metadata.Namespace = "Prod_1" }, path: "metadata.namespace", msg: "DNS-1123 label"},
		{name: "spec nil", mutate: func(r *Resource) { r.Spec = nil }, path: "spec", msg: "required"},
		{name: "spec nil pointer", mutate: func(r *Resource) { r.Spec = (*ServiceSpec)(nil) }, path: "spec", msg: "required"},
		{name: "spec wrong type", mutate: func(r *Resource) { r.Spec = &RouteSpec{} }, path: "spec", msg: "holds *resource.RouteSpec; a Service needs *resource.ServiceSpec"},
		{name: "mesh with namespace", mutate: func(r *Resource) {
			r.Kind, r.Spec = KindMesh, &MeshSpec{TrustDomain: "example.org"}
		}, path: "metadata.namespace", msg: "must not be set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := svc()
			tc.mutate(r)
			err := Validate(r)
			if tc.path == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			errs := asErrors(t, err)
			hasError(t, errs, tc.path, tc.msg)
			if errs[0].Index != -1 || errs[0].File != "" {
				t.Errorf("a resource without Origin must give Index -1 and no file, got %+v", errs[0])
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	asErrors(t, Validate(nil))
}

func TestValidateUsesOrigin(t *testing.T) {
	r := &Resource{APIVersion: APIVersion, Kind: KindRoute, Metadata: Metadata{Name: "r", Namespace: "default"},
		Spec: &RouteSpec{Service: "a"}, Origin: &Origin{File: "routes.yaml", Index: 3}}
	errs := asErrors(t, Validate(r))
	want := "routes.yaml: document 3 (Route default/r): spec.rules: at least one rule is required"
	if errs.Error() != want {
		t.Errorf("got %q, want %q", errs.Error(), want)
	}
}

func TestMeshHasNoNamespace(t *testing.T) {
	rs := mustDecode(t, doc(KindMesh, "mesh", "trustDomain: example.org"), doc(KindService, "a", validService))
	if rs[0].Metadata.Namespace != "" {
		t.Errorf("Mesh namespace = %q, want empty", rs[0].Metadata.Namespace)
	}
	if rs[1].Metadata.Namespace != DefaultNamespace {
		t.Errorf("Service namespace = %q, want %q", rs[1].Metadata.Namespace, DefaultNamespace)
	}
	withNS := "apiVersion: embassy.dev/v1alpha1\nkind: Mesh\nmetadata: {name: mesh, namespace: prod}\nspec: {trustDomain: example.org}\n"
	_, err := Decode("m.yaml", []byte(withNS))
	hasError(t, asErrors(t, err), "metadata.namespace", "must not be set")
}
