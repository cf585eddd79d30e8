package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"

	"embassy.dev/embassy/pkg/apiwire"
)

// The API's only browser client is its own dashboard (pkg/ui, same
// origin), yet any page in a browser on the operator's machine can reach
// it: a page may send it simple cross-site requests (a form or
// a text/plain POST, no preflight), and a page whose name re-resolves to
// 127.0.0.1 (DNS rebinding) may read what it answers, which with
// --anonymous-reads is the whole mesh. browserGuard closes both: the
// Host header must name this API, and a request with a body must be
// JSON, which no page can send across sites without a CORS preflight
// that the API never grants.

// APIHostFlag is embassy-cp's flag naming extra Host names of the API.
const APIHostFlag = "--api-host"

// browserGuard wraps the API: every response says nosniff, a request
// whose Host names neither a loopback address nor one of hosts is refused
// (421), an OPTIONS preflight is refused without any CORS header (405),
// and a request other than GET or HEAD must be JSON (415).
func browserGuard(next http.Handler, hosts []string) http.Handler {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[normalHost(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		host := normalHost(r.Host)
		if !loopbackHost(host) && !allowed[host] {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("Host %q is not a name of this API: call it by a loopback address (127.0.0.1, [::1], localhost) or the host it listens on, or give embassy-cp %s %s (repeatable); other names are refused so that a web page cannot reach the API by DNS rebinding", r.Host, APIHostFlag, host))
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			writeError(w, http.StatusMethodNotAllowed, "OPTIONS is not served: the API grants no cross-origin (CORS) access")
			return
		default:
			if !isJSON(r.Header.Get("Content-Type")) {
				writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s %s needs Content-Type: %s (got %q): the API takes no other type, so that a web page cannot send it a form or text", r.Method, r.URL.Path, apiwire.JSONContentType, r.Header.Get("Content-Type")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// normalHost is a Host header's (or a configured name's) host, without
// port or brackets, in lower case and without a trailing dot.
func normalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// loopbackHost reports whether host is localhost or a loopback IP
// (127.0.0.0/8, ::1): names that no other site can make a browser send.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isJSON reports whether a Content-Type is application/json, parameters
// such as charset allowed.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == apiwire.JSONContentType
}

// APIHosts is every name besides loopback ones that requests may call the
// API by: names (--api-host), and the host of listenAddr unless it is a
// wildcard, since a client of an API that listens on 10.0.0.5 calls it
// 10.0.0.5.
func APIHosts(listenAddr string, names []string) []string {
	out := append([]string(nil), names...)
	host, _, err := net.SplitHostPort(listenAddr)
	if ip := net.ParseIP(host); err == nil && host != "" && (ip == nil || !ip.IsUnspecified()) {
		out = append(out, host)
	}
	return out
}

// CheckAPIHosts refuses --api-host values that are not plain host names or
// IP addresses, so a typo fails at start rather than refusing every call.
func CheckAPIHosts(hosts []string) error {
	for _, h := range hosts {
		if n := normalHost(h); n == "" || strings.ContainsAny(h, "/@ ") {
			return fmt.Errorf("%s %q: want a host name or IP address, without scheme, port or path (for example %s api.mesh.example)", APIHostFlag, h, APIHostFlag)
		}
	}
	return nil
}
