// Package api serves Embassy's HTTP admin and status API: applying and
// reading resources, health, the state of connected proxies, join tokens,
// the trust bundle and the certificates issued.
package api

import (
	"net/http"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
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
	// Certificates lists the latest SVID of every agent for
	// /v1/certificates; nil lists none.
	Certificates func() []WorkloadCertificate
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
	write := requireAdmin(o.AdminToken)
	read := open

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("POST /v1/apply", write(http.HandlerFunc(s.apply)))
	mux.Handle("GET /v1/resources/{kind}", read(http.HandlerFunc(s.list)))
	mux.Handle("GET /v1/resources/{kind}/{name}", read(http.HandlerFunc(s.get)))
	mux.Handle("DELETE /v1/resources/{kind}/{name}", write(http.HandlerFunc(s.delete)))
	mux.Handle("GET /v1/proxies", read(http.HandlerFunc(s.proxies)))
	// Join tokens grant identities, so even listing them is for the admin.
	mux.Handle("POST /v1/tokens", write(http.HandlerFunc(s.createToken)))
	mux.Handle("GET /v1/tokens", write(http.HandlerFunc(s.listTokens)))
	mux.Handle("DELETE /v1/tokens/{id}", write(http.HandlerFunc(s.revokeToken)))
	// The bundle is public: agents bootstrap their trust from it.
	mux.HandleFunc("GET /v1/bundle", s.bundle)
	mux.Handle("GET /v1/certificates", read(http.HandlerFunc(s.certificates)))
	mux.HandleFunc("/", notFoundRoute)
	return mux
}

// notFoundRoute answers paths the API does not serve, in JSON like every
// other error.
func notFoundRoute(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no API route for "+r.Method+" "+r.URL.Path+": see /v1/resources/{kind}, /v1/apply, /v1/proxies, /v1/tokens, /v1/bundle, /v1/certificates")
}
