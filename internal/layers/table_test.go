package layers

// The layers, lowest first. A package may import packages of its own
// layer or of a lower one (in its non-test files; tests may reach up to
// drive the real thing).
const (
	// base knows nothing of the mesh: logging, events, proxy status
	// records, change tracking and small libraries.
	base = iota
	// model is what the mesh is, where it is kept and the contracts that
	// cross a process boundary: resources, the mesh snapshot, the store,
	// SPIFFE identities, join tokens and the identity API's wire types.
	model
	// engines turn the model into something else, purely or nearly so:
	// Envoy resources, bootstraps, compiled policies and decisions, CA
	// signatures, what-if answers.
	engines
	// serving puts engines behind a protocol: the xDS cache and server,
	// the identity service, the HTTP API, and their clients.
	serving
	// wiring starts and connects everything: the control plane, the
	// agent, the CLI and the binaries.
	wiring
	// tools are tests, benchmarks, examples and their helpers: they may
	// import anything, and no product package imports them.
	tools
)

// layerNames name the layers in failure messages.
var layerNames = [...]string{"base", "model", "engines", "serving", "wiring", "tools"}

// layerOf places every package of the module, by its path below the
// module. A package missing here fails the test, so a new package is
// placed on purpose.
var layerOf = map[string]int{
	"internal/atomicfile": base,
	"internal/proccpu":    base,
	"internal/wirecodec":  base,
	"pkg/events":          base,
	"pkg/log":             base,
	"pkg/re2size":         base,
	"pkg/rollout":         base,
	"pkg/status":          base,
	// The dashboard's Go side serves static files; the mesh reaches it
	// only through the API it calls from the browser.
	"pkg/ui": base,

	"pkg/dataplane":     model,
	"pkg/dataplane/sds": model,
	"pkg/identity/wire": model,
	"pkg/jointoken":     model,
	"pkg/jwks":          model,
	// The Kubernetes kinds' schema, generated from the resource types.
	"pkg/kube":     model,
	"pkg/kube/crd": model,
	"pkg/mesh":     model,
	"pkg/resource": model,
	"pkg/spiffe":   model,
	"pkg/store":    model,

	"pkg/apply":       engines,
	"pkg/bootstrap":   engines,
	"pkg/identity":    engines,
	"pkg/posture":     engines,
	"pkg/whatif":      engines,
	"policy/compile":  engines,
	"policy/engine":   engines,
	"policy/extauthz": engines,
	"policy/jwt":      engines,
	"policy/rbac":     engines,
	"policy/sandbox":  engines,
	"xds/envoyrules":  engines,
	"xds/translate":   engines,
	"xds/validate":    engines,

	"pkg/api":              serving,
	"pkg/apiwire":          serving,
	"pkg/client":           serving,
	"pkg/grpcauthz":        serving,
	"pkg/identity/client":  serving,
	"pkg/identity/service": serving,
	// Clients of the Kubernetes API (discovery, TokenReview) and the
	// admission webhooks the API server calls.
	"pkg/kube/admission": serving,
	"pkg/kube/attest":    serving,
	"pkg/kube/discovery": serving,
	"pkg/kube/inject":    serving,
	"pkg/metrics":        serving,
	"pkg/spiffewatch":    serving,
	"xds/cache":          serving,
	"xds/server":         serving,

	"cmd/embassy-agent": wiring,
	"cmd/embassy-cp":    wiring,
	"cmd/embassyctl":    wiring,
	"pkg/agent":         wiring,
	"pkg/cli":           wiring,
	"pkg/controlplane":  wiring,

	"bench":                               tools,
	"bench/cmd/embassy-bench":             tools,
	"cmd/embassy-demo-ha":                 tools,
	"deploy/envoy":                        tools,
	"e2e":                                 tools,
	"examples":                            tools,
	"examples/quickstart/cmd/echo-client": tools,
	"examples/quickstart/cmd/echo-server": tools,
	"internal/applytest":                  tools,
	"internal/authztest":                  tools,
	"internal/bundletest":                 tools,
	"internal/catest":                     tools,
	"internal/demoha":                     tools,
	"internal/echo":                       tools,
	"internal/etcdtest":                   tools,
	"internal/etcdtest/cmd/etcdmember":    tools,
	"internal/grpctest":                   tools,
	"internal/idtest":                     tools,
	"internal/kubetest":                   tools,
	"internal/layers":                     tools,
	"internal/meshtest":                   tools,
	"internal/nettest":                    tools,
	"internal/poll":                       tools,
	"internal/syncbuf":                    tools,
	"internal/workloadapitest":            tools,
	"policy/jwt/jwttest":                  tools,
	"scripts/genbootstraps":               tools,
	"xds/cache/cachetest":                 tools,
}

// apart are pairs that talk only over a wire, so the first may never
// import the second even where the layers allow it: a client carries
// none of its server, and the two sides of the mesh share no code but
// the model.
var apart = []edge{
	{"pkg/client", "pkg/api"},
	{"pkg/cli", "pkg/api"},
	{"cmd/embassyctl", "pkg/api"},
	{"pkg/identity/client", "pkg/identity/service"},
	{"pkg/agent", "pkg/controlplane"},
	{"pkg/controlplane", "pkg/agent"},
	{"cmd/embassy-agent", "pkg/controlplane"},
	{"cmd/embassy-cp", "pkg/agent"},
}

// importedOnlyBy names, for an engine whose output is one path's, the
// packages that may import it; any other importer wants a name or a
// parser that belongs in the model. Tools may import them all.
var importedOnlyBy = map[string][]string{
	// The translator's Envoy resources are served only by the xDS path.
	"xds/translate": {"xds/cache", "xds/server", "xds/validate", "xds/envoyrules"},
	// Bootstraps are written by the agent and printed by embassyctl.
	// The injection webhook writes the gRPC bootstrap into proxyless Pods.
	"pkg/bootstrap": {"pkg/agent", "cmd/embassy-agent", "cmd/embassyctl", "pkg/kube/inject"},
}

// table is the rules the tree is held to.
var table = rules{layerOf: layerOf, apart: apart, importedOnlyBy: importedOnlyBy, allowed: allowed}

// allowed are the imports against the direction that remain, each with
// what removes it. The test fails when one of them is gone, so this list
// only shrinks; it is empty, and a new entry needs a reason that beats
// moving what the importer needs down.
var allowed = map[edge]string{}
