package translate

import (
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// normalizePaths makes an Envoy sidecar's HCM decide on the path the
// application will act on. Without it "/public/../admin", "//admin" and
// "/admin%2Fx" reach RBAC's path rules, route matches and the agent's
// Rego as written, while the application resolves them to /admin: the
// path-normalization bypass class of mesh CVEs. Envoy rewrites :path
// before any HTTP filter runs (http/conn_manager_utility.cc
// maybeNormalizePath), so RBAC, ext_authz and the router all see the
// normalized form.
//
// Escaped slashes are refused (400) rather than unescaped: unescaping
// changes what the application receives (some use %2F inside a segment on
// purpose), and UNESCAPE_AND_REDIRECT answers with a redirect that gRPC and
// most API clients never follow. A refusal is explicit and never
// ambiguous at an authorization boundary. Proxyless gRPC has no
// normalization settings (method paths are fixed), so only Envoy HCMs get
// this.
func normalizePaths(h *hcm.HttpConnectionManager) *hcm.HttpConnectionManager {
	h.NormalizePath = wrapperspb.Bool(true)
	h.MergeSlashes = true
	h.PathWithEscapedSlashesAction = hcm.HttpConnectionManager_REJECT_REQUEST
	return h
}
