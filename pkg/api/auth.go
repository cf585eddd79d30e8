package api

import (
	"net/http"
	"strings"
)

// middleware wraps a handler; each access level of the routes table gets
// one.
type middleware func(http.Handler) http.Handler

// missingTokenMsg tells a caller without a token where to find one.
const missingTokenMsg = "missing bearer token: pass --token-file or set EMBASSY_TOKEN_FILE (the admin token is in <data-dir>/admin-token)"

// adminOnlyMsg tells a read token's holder that the route of r needs the
// admin token. Admin routes include reads (backup, token list, profiles),
// so the message names the route rather than calling it a write.
func adminOnlyMsg(r *http.Request) string {
	return r.Method + " " + r.URL.Path + " needs the admin token, not the read token: pass --token-file or set EMBASSY_TOKEN_FILE to <data-dir>/admin-token"
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
