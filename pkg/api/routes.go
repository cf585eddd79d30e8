package api

import (
	"net/http"
	"net/http/pprof"
)

// accessLevel says who may call a route.
type accessLevel int

const (
	// public routes need no token.
	public accessLevel = iota
	// read routes need a read token or the admin token (or an anonymous
	// loopback caller when anonymous reads are on).
	read
	// admin routes need the admin token.
	admin
)

// Route is one registered API route.
type Route struct {
	Method string
	// Path is a net/http pattern path, with {name} wildcards as in OpenAPI.
	Path    string
	Access  accessLevel
	handler func(*server) http.Handler
}

// h adapts a server method to a route's handler constructor.
func h(f func(*server, http.ResponseWriter, *http.Request)) func(*server) http.Handler {
	return func(s *server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(s, w, r) })
	}
}

// routes is every route the API registers, in one table so that the
// OpenAPI document can be checked against it.
var routes = []Route{
	{"GET", "/healthz", public, h((*server).healthz)},
	{"GET", "/readyz", public, h((*server).readyz)},
	{"GET", "/metrics", read, h((*server).metrics)},
	// The API's description is public: it holds no mesh data, and a
	// client needs it before it has a token.
	{"GET", "/v1/openapi.json", public, h((*server).openapi)},
	{"GET", "/v1/status", read, h((*server).status)},
	{"POST", "/v1/apply", admin, h((*server).apply)},
	{"GET", "/v1/resources/{kind}", read, h((*server).list)},
	{"GET", "/v1/resources/{kind}/{name}", read, h((*server).get)},
	{"DELETE", "/v1/resources/{kind}/{name}", admin, h((*server).delete)},
	{"GET", "/v1/proxies", read, h((*server).proxies)},
	{"GET", "/v1/proxies/{id}", read, h((*server).proxy)},
	{"GET", "/v1/proxies/{id}/config", read, h((*server).proxyConfig)},
	{"GET", "/v1/services", read, h((*server).services)},
	{"GET", "/v1/policies", read, h((*server).policies)},
	// Evaluating runs the policy's Rego on the control plane: admin only.
	{"POST", "/v1/policies/{namespace}/{name}/eval", admin, h((*server).evalPolicy)},
	{"GET", "/v1/policies/{namespace}/{name}/explain", read, h((*server).explainPolicy)},
	{"GET", "/v1/events", read, h((*server).events)},
	// Join tokens grant identities, so even listing them is for the admin.
	{"POST", "/v1/tokens", admin, h((*server).createToken)},
	{"GET", "/v1/tokens", admin, h((*server).listTokens)},
	{"DELETE", "/v1/tokens/{id}", admin, h((*server).revokeToken)},
	// The bundle is public: agents bootstrap their trust from it.
	{"GET", "/v1/bundle", public, h((*server).bundle)},
	{"GET", "/v1/certificates", read, h((*server).certificates)},
	{"GET", "/v1/ca/roots", read, h((*server).caRoots)},
	// A rotation changes what every peer must trust: admin only.
	{"POST", "/v1/ca/rotate", admin, h((*server).rotateCA)},
	// What-if runs Rego on a private engine over the current snapshot and
	// changes nothing, so a read token may ask.
	{"POST", "/v1/check", read, h((*server).check)},
	{"GET", "/v1/posture", read, h((*server).posture)},
	{"GET", "/v1/changes/{id}", read, h((*server).change)},
	// A backup holds the CA's keys: admin only.
	{"GET", "/v1/backup", admin, h((*server).backup)},
	// Profiles reveal memory contents, so they are for the admin.
	{"GET", "/debug/pprof/", admin, h(func(_ *server, w http.ResponseWriter, r *http.Request) { pprof.Index(w, r) })},
	{"GET", "/debug/pprof/{profile}", admin, h(func(_ *server, w http.ResponseWriter, r *http.Request) { pprofNamed(w, r) })},
}

// Routes lists every registered route, for documentation and tests.
func Routes() []Route { return append([]Route(nil), routes...) }

// pprofNamed serves one named profile; the ones that are not runtime
// profiles have handlers of their own.
func pprofNamed(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("profile") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}
