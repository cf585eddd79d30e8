package api

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
)

// ReadTokenFile is the read token's file name inside the data directory.
const ReadTokenFile = "read-token"

// Messages of refused requests. None of them repeats a token.
const (
	missingReadTokenMsg = "missing bearer token: reads need the read token (<data-dir>/read-token) or the admin token: pass --token-file or set EMBASSY_TOKEN_FILE"
	invalidTokenMsg     = "invalid bearer token"
)

// role is what a request's token grants.
type role int

const (
	roleNone role = iota
	roleInvalid
	roleRead
	roleAdmin
)

// authenticator tells the admin token from read tokens, comparing in
// constant time so a response's timing reveals nothing of a guess.
type authenticator struct {
	admin     []byte
	read      [][]byte
	anonymous bool
}

func newAuthenticator(adminToken string, readTokens []string, anonymous bool) *authenticator {
	a := &authenticator{admin: []byte(adminToken), anonymous: anonymous}
	for _, t := range readTokens {
		if t != "" {
			a.read = append(a.read, []byte(t))
		}
	}
	return a
}

// roleOf classifies the request's bearer token.
func (a *authenticator) roleOf(r *http.Request) role {
	got, ok := bearer(r)
	if !ok {
		return roleNone
	}
	b := []byte(got)
	if len(a.admin) > 0 && subtle.ConstantTimeCompare(b, a.admin) == 1 {
		return roleAdmin
	}
	for _, t := range a.read {
		if subtle.ConstantTimeCompare(b, t) == 1 {
			return roleRead
		}
	}
	return roleInvalid
}

// requireRead lets through the admin token, read tokens and, when
// anonymous reads are on, tokenless requests from loopback.
func (a *authenticator) requireRead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch a.roleOf(r) {
		case roleAdmin, roleRead:
			next.ServeHTTP(w, r)
		case roleNone:
			if a.anonymous && fromLoopback(r) {
				next.ServeHTTP(w, r)
				return
			}
			writeError(w, http.StatusUnauthorized, missingReadTokenMsg)
		default:
			writeError(w, http.StatusUnauthorized, invalidTokenMsg)
		}
	})
}

// requireAdmin lets through only the admin token; a read token is told
// that the route needs the admin token.
func (a *authenticator) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch a.roleOf(r) {
		case roleAdmin:
			next.ServeHTTP(w, r)
		case roleRead:
			writeError(w, http.StatusForbidden, adminOnlyMsg(r))
		case roleNone:
			writeError(w, http.StatusUnauthorized, missingTokenMsg)
		default:
			writeError(w, http.StatusUnauthorized, invalidTokenMsg)
		}
	})
}

// fromLoopback reports whether the request's peer is a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAnonymousReads refuses anonymous reads unless the API listens on a
// loopback address only: anyone who can reach a wider address could read
// the whole mesh.
func CheckAnonymousReads(listenAddr string) error {
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("--anonymous-reads: API address %q: %w", listenAddr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--anonymous-reads is only allowed when the API listens on a loopback address (127.0.0.1, ::1 or localhost), not %q: use a read token instead (<data-dir>/%s)", listenAddr, ReadTokenFile)
	}
	return nil
}

// EnsureReadToken returns the read token and its file: tokenFile when
// set, otherwise dataDir/read-token, created like the admin token (32
// random bytes in hex, mode 0600) when absent.
func EnsureReadToken(dataDir, tokenFile string) (token, path string, created bool, err error) {
	return ensureToken("read token", "--read-token-file", ReadTokenFile, dataDir, tokenFile)
}
