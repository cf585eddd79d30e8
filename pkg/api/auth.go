package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// middleware wraps a handler; reads and writes each get one, so read
// tokens can be required later by changing only the read middleware.
type middleware func(http.Handler) http.Handler

// missingTokenMsg tells a caller without a token where to find one.
const missingTokenMsg = "missing bearer token: pass --token-file or set EMBASSY_TOKEN_FILE (the admin token is in <data-dir>/admin-token)"

// open lets every request through.
func open(h http.Handler) http.Handler { return h }

// requireAdmin lets through only requests bearing the admin token. An
// empty admin token refuses every request rather than accepting every one.
func requireAdmin(token string) middleware {
	want := []byte(token)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := bearer(r)
			if !ok {
				writeError(w, http.StatusUnauthorized, missingTokenMsg)
				return
			}
			// ConstantTimeCompare keeps the comparison's duration from
			// revealing how much of a guess was right.
			if len(want) == 0 || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				writeError(w, http.StatusUnauthorized, "invalid bearer token")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
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
