// Package api serves Embassy's HTTP admin and status API: applying and
// reading resources, health, the state of connected proxies, join tokens,
// the trust bundle and the certificates issued.
package api

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/pkg/ui"
	"embassy.dev/embassy/policy/sandbox"
)

// Options configure the handler.
type Options struct {
	// Store is read for GET requests.
	Store store.Store
	// Applier performs every write, so API writes are serialised with
	// every other writer that shares it.
	Applier *apply.Applier
	// Proxies answers GET /v1/proxies; nil reports no proxies.
	Proxies status.Registry
	// AdminToken authorises writes. It is never logged.
	AdminToken string
	// Ready reports whether the control plane can serve; nil means ready.
	Ready func() error
	// Logger defaults to a null logger.
	Logger hclog.Logger
	// Tokens serves /v1/tokens (admin only); nil answers 503.
	Tokens TokenManager
	// Bundle serves /v1/bundle and the roots of /v1/certificates; nil
	// answers 503.
	Bundle TrustBundle
	// RotateCA publishes a new root of the mesh CA for POST /v1/ca/rotate
	// and returns the bundle's roots after it; nil answers 503. A
	// *RotateRefusedError from a CA that does not rotate itself answers
	// 409.
	RotateCA func() ([]identity.RootInfo, error)
	// Certificates lists the latest SVID of every agent for
	// /v1/certificates; nil lists none.
	Certificates func() []apiwire.WorkloadCertificate

	// ReadTokens authorise reads (never writes), besides the admin token.
	// They are never logged.
	ReadTokens []string
	// AnonymousReads lets reads without a token through when they come
	// from a loopback address; the caller must only set it when the API
	// listens on loopback (see CheckAnonymousReads).
	AnonymousReads bool
	// APIHosts are the names, besides loopback ones, that requests may
	// call the API by in their Host header (embassy-cp's --api-host).
	APIHosts []string
	// StaleAfter bounds how long a sent version may wait for its ack
	// before the proxy is STALE; status.DefaultStaleAfter when zero.
	StaleAfter time.Duration
	// Config answers /v1/proxies/{id}/config; nil answers 503.
	Config status.ConfigSource
	// Mesh is the current mesh snapshot; nil builds one from the store.
	Mesh func() *mesh.Snapshot
	// Events feeds /v1/events and hears of applies and deletes; nil keeps
	// none.
	Events *events.Bus
	// Metrics serves /metrics; nil answers 503.
	Metrics http.Handler
	// Roots lists the CA's roots for /v1/status; nil falls back to
	// Bundle's.
	Roots func() []identity.RootInfo
	// LastPush describes the last push for /v1/status; nil reports none.
	LastPush func() (PushInfo, bool)
	// StartedAt is when the control plane started; the handler's creation
	// time when zero.
	StartedAt time.Time
	// Heartbeat is the interval of SSE heartbeats (default 15s).
	Heartbeat time.Duration
	// InsecureXDS tells /v1/posture that xDS is served in plaintext.
	InsecureXDS bool
	// XDSAddress is where xDS is served, for /v1/status.
	XDSAddress string
	// Changes answers /v1/changes/{id}; nil answers 503.
	Changes ChangeSource
	// Authz compiles a policy for /v1/policies and its explain when the
	// mesh snapshot has not; nil reports the bundle only, without RBAC.
	Authz mesh.AuthzCompiler
	// AuthzReports lists the agents' latest authorization reports for the
	// decision counts of /v1/policies; nil reports none.
	AuthzReports func() []AuthzReport
	// Rego runs the Rego of policy eval and /v1/check under the control
	// plane's deadline and memory budget; nil answers those with 503.
	Rego *sandbox.Sandbox
	// Backup serves GET /v1/backup (admin only); nil answers 501.
	Backup BackupFunc
}

// server holds the handler's dependencies.
type server struct {
	o   Options
	log hclog.Logger
}

// NewHandler returns the API's http.Handler.
func NewHandler(o Options) http.Handler {
	s := &server{o: o, log: o.Logger}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.o.Applier == nil && s.o.Store != nil {
		s.o.Applier = apply.New(s.o.Store)
	}
	if s.o.StaleAfter <= 0 {
		s.o.StaleAfter = status.DefaultStaleAfter
	}
	if s.o.StartedAt.IsZero() {
		s.o.StartedAt = time.Now()
	}
	if s.o.Heartbeat <= 0 {
		s.o.Heartbeat = defaultHeartbeat
	}
	auth := newAuthenticator(o.AdminToken, o.ReadTokens, o.AnonymousReads)
	access := map[accessLevel]middleware{
		public: func(h http.Handler) http.Handler { return h },
		read:   auth.requireRead,
		admin:  auth.requireAdmin,
	}

	mux := http.NewServeMux()
	// Every route is in the routes table, so the OpenAPI test can check
	// the document against what is registered.
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Path, access[rt.Access](rt.handler(s)))
	}
	// The dashboard's pages hold no data (it comes from the read routes
	// above), so they are served to anyone who passes browserGuard.
	mux.Handle("GET "+ui.Path, ui.Handler())
	mux.Handle("GET /ui", ui.Handler())
	mux.HandleFunc("/", notFoundRoute)
	return browserGuard(mux, o.APIHosts)
}

// notFoundRoute answers paths the API does not serve, in JSON like every
// other error.
func notFoundRoute(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no API route for "+r.Method+" "+r.URL.Path+": see /v1/openapi.json for every route")
}
