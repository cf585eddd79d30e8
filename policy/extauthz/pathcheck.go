package extauthz

import (
	"errors"
	"fmt"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// ErrPathNotNormalized marks a CheckRequest whose path a sidecar
// configured as Embassy generates it would never send: one its Envoy
// would have normalized into another path, or refused. Such a request is
// denied with 400 before any policy sees it.
var ErrPathNotNormalized = errors.New("path not normalized by the sidecar")

// pathSettings names the sidecar settings a path is checked against.
const pathSettings = "normalize_path, merge_slashes, escaped slashes rejected"

// checkPath refuses a request whose path, or :path header, is not in the
// form Envoy hands its filters under Embassy's settings (NormalizePath).
// A policy decides on the path Envoy forwards, which is the one the
// application acts on; a path like /public/../admin reaching the agent
// means the sidecar did not normalize it, so the application may read it
// as a path other than the one the policy would judge. Deciding on it
// anyway would let a misconfigured or foreign proxy turn an allow for
// /public into access to /admin; denying keeps the answer fail-closed.
// One path Envoy does forward is refused too: "/.;x", which it makes of
// "/%2e;x" (it drops dot-segment parameters before decoding the dot), and
// which servers such as Tomcat read as "/". A request with no path (a
// TCP check, CONNECT) has nothing to check.
func checkPath(req *authv3.CheckRequest) error {
	h := req.GetAttributes().GetRequest().GetHttp()
	return checkPaths(h.GetPath(), func(name string) (string, bool) {
		v, ok := h.GetHeaders()[name]
		return v, ok
	})
}

// checkPaths is checkPath of a request's path and its header.
func checkPaths(path string, header func(name string) (string, bool)) error {
	paths := [2]string{path}
	paths[1], _ = header(":path")
	for _, p := range paths {
		if p == "" || normalAsIs(p) {
			continue
		}
		n, ok := NormalizePath(p)
		switch {
		case !ok:
			return fmt.Errorf("%w: Envoy refuses %q with Embassy's settings (%s), so this sidecar is not configured as Embassy generates it: denied",
				ErrPathNotNormalized, withoutQuery(p), pathSettings)
		case n != p:
			return fmt.Errorf("%w: %q would be %q with Embassy's settings (%s), so this sidecar is not configured as Embassy generates it: denied",
				ErrPathNotNormalized, withoutQuery(p), withoutQuery(n), pathSettings)
		}
	}
	return nil
}

// normalAsIs says, without the allocations of NormalizePath, whether p
// is a path it leaves as it is for the plain reason, which most are: p
// starts with a slash, holds no '#' and no "//", and before its query no
// byte the canonicalization looks at (a dot, an escape, a backslash, or
// a byte it would escape). When it says false, NormalizePath decides.
func normalAsIs(p string) bool {
	if p[0] != '/' || strings.Contains(p, "#") || strings.Contains(p, "//") {
		return false
	}
	path, _, _ := strings.Cut(p, "?")
	for i := 0; i < len(path); i++ {
		if pathChars[path[i]]&charSpecial != 0 {
			return false
		}
	}
	return true
}

// withoutQuery keeps a query string, which can carry credentials, out of
// reasons, which are logged and sent to the client.
func withoutQuery(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}
