// Package ui is the mesh dashboard embassy-cp serves at /ui: static
// pages and scripts, embedded in the binary, that read the status API's
// JSON routes from the browser. The pages hold no mesh data and no token,
// so serving them needs none; every datum they show comes from /v1/...
// under the API's own read rules (a read or admin token the operator
// types in, kept in the tab's sessionStorage, or an anonymous read from
// loopback when embassy-cp runs with --anonymous-reads).
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

// Path is where the dashboard is mounted on the API's listener.
const Path = "/ui/"

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the pages run only their own scripts and
// styles and talk only to the API they came from: no inline script, no
// third-party origin, no framing (clickjacking).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard's files under Path, and redirects the bare
// "/ui" there. Mount it for GET only: the dashboard changes nothing.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("ui: embedded static directory: " + err.Error()) // fixed at build time
	}
	files := http.StripPrefix(Path, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ui" {
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// A new embassy-cp may ship new scripts: revalidate every load.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
